//go:build go1.23

// iterpull: iter.Pull turns push iterators into pull iterators backed by
// coroutines, which the trace records as GoSwitch / GoSwitchDestroy.
package main

import (
	"fmt"
	"iter"
	"sync"

	"weft.test/programs/internal/tracefile"
)

func count(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

func main() {
	stop := tracefile.Begin()
	defer stop()

	var wg sync.WaitGroup
	sums := make([]int, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			// Zip two pulled sequences, finishing one and abandoning the other.
			for r := 0; r < 50; r++ {
				nextA, stopA := iter.Pull(count(40))
				nextB, stopB := iter.Pull(count(1000))
				for {
					a, ok := nextA()
					if !ok {
						break
					}
					b, _ := nextB()
					sums[g] += a * b
				}
				stopA()
				stopB() // B is stopped early: its coroutine is destroyed mid-sequence
			}
		}(g)
	}
	wg.Wait()
	// Range-over-func on the same iterator, for good measure.
	total := 0
	for v := range count(100) {
		total += v
	}
	fmt.Println("sums:", sums, "total:", total)
}
