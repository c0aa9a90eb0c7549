// wgcount: a batch job counts one item too many in its WaitGroup, so
// Wait never returns once the workers are done.
package main

import (
	"sync"
	"time"

	"weft.test/bugs/internal/harness"
)

func process(item int) {
	harness.Spin(time.Duration(item) * 100 * time.Microsecond)
}

// runBatch is the bug: Add(len(items)+1) but only len(items) calls to Done.
func runBatch(items []int) {
	var wg sync.WaitGroup
	wg.Add(len(items) + 1)
	for _, it := range items {
		go func(it int) {
			defer wg.Done()
			process(it)
		}(it)
	}
	wg.Wait()
}

func batchJob() {
	runBatch([]int{1, 2, 3, 4, 5})
}

func main() {
	harness.Run(func() {
		harness.Busy(3)
		go batchJob()
	})
}
