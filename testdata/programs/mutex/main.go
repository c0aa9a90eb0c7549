// mutex: goroutines contend on a sync.Mutex, an RWMutex and a sync.Cond,
// so the trace holds "sync" and "sync.(*Cond).Wait" blocking.
package main

import (
	"fmt"
	"runtime"
	"sync"

	"weft.test/programs/internal/tracefile"
)

func main() {
	stop := tracefile.Begin()
	defer stop()

	var (
		mu      sync.Mutex
		counter int
		rw      sync.RWMutex
		table   = map[int]int{}
		wg      sync.WaitGroup
	)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				mu.Lock()
				counter++
				if i%50 == 0 {
					runtime.Gosched() // hold the lock across a yield: others must block
				}
				mu.Unlock()
				if i%10 == 0 {
					rw.Lock()
					table[g] = i
					rw.Unlock()
				} else {
					rw.RLock()
					_ = table[(g+1)%16]
					rw.RUnlock()
				}
			}
		}(g)
	}

	// A bounded queue guarded by a Cond: producers wait when full,
	// consumers wait when empty.
	var (
		qmu   sync.Mutex
		cond  = sync.NewCond(&qmu)
		queue []int
		done  bool
		sum   int
	)
	const items, capacity = 2000, 4
	var cw sync.WaitGroup
	for c := 0; c < 3; c++ {
		cw.Add(1)
		go func() {
			defer cw.Done()
			for {
				qmu.Lock()
				for len(queue) == 0 && !done {
					cond.Wait()
				}
				if done {
					qmu.Unlock()
					return
				}
				v := queue[0]
				queue = queue[1:]
				sum += v
				cond.Broadcast()
				qmu.Unlock()
			}
		}()
	}
	for i := 1; i <= items; i++ {
		qmu.Lock()
		for len(queue) >= capacity {
			cond.Wait()
		}
		queue = append(queue, i)
		cond.Signal()
		qmu.Unlock()
	}
	qmu.Lock()
	for len(queue) > 0 {
		cond.Wait()
	}
	done = true
	cond.Broadcast()
	qmu.Unlock()
	cw.Wait()
	wg.Wait()
	fmt.Println("counter:", counter, "sum:", sum)
}
