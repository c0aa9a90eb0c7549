// gcpressure: allocation churn from several goroutines with a small GOGC
// and forced collections, so the trace holds GC cycles, sweeps, mark
// assists, stop-the-world ranges and heap metrics.
package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"

	"weft.test/programs/internal/tracefile"
)

type node struct {
	next *node
	data [48]byte
}

func main() {
	debug.SetGCPercent(20)
	stop := tracefile.Begin()
	defer stop()

	var wg sync.WaitGroup
	kept := make([]*node, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var live *node
			for i := 0; i < 8000; i++ {
				n := &node{next: live}
				n.data[0] = byte(i)
				if i%3 == 0 {
					live = n // keep a third alive for a while
				}
				if i%2000 == 0 {
					live = nil
				}
				_ = make([]byte, 64+i%256) // garbage
			}
			kept[g] = live
		}(g)
	}
	// Forced collections only once the churn is over: runtime.GC waits for
	// sweeping with a Gosched loop, which under CPU contention fills the
	// trace with yields.
	wg.Wait()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms) // a stop-the-world of its own
	fmt.Println("gc cycles >= 2:", ms.NumGC >= 2, "kept:", len(kept))
}
