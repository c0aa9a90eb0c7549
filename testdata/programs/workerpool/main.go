// workerpool: a job channel fanned out to a fixed pool of workers, results
// gathered over a buffered channel, completion tracked with a WaitGroup.
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"sync"

	"weft.test/programs/internal/tracefile"
)

func main() {
	workers := flag.Int("workers", 6, "pool size")
	jobs := flag.Int("jobs", 3000, "number of jobs")
	stop := tracefile.Begin()
	defer stop()

	work := make(chan int)
	results := make(chan [32]byte, 16)
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				// A little CPU work per job so workers overlap.
				buf := make([]byte, 256+j%512)
				for i := range buf {
					buf[i] = byte(i * j)
				}
				results <- sha256.Sum256(buf)
			}
		}()
	}
	go func() {
		for j := 0; j < *jobs; j++ {
			work <- j
		}
		close(work)
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	var x byte
	n := 0
	for r := range results {
		x ^= r[0]
		n++
	}
	fmt.Printf("jobs done: %d (xor %d)\n", n, x)
}
