// stress: the benchmark load, not run by the tests. Channel ping-pong
// pairs share a fixed number of round trips, so the trace size depends on
// the work done (≈35 bytes per round trip), not on how busy the machine is.
//
//	stress -trace big.trace -pairs 200 -rounds 2000000   # ≈ 70 MB
//
// weft-harness: skip
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"

	"weft.test/programs/internal/tracefile"
)

func main() {
	pairs := flag.Int("pairs", 200, "goroutine pairs")
	rounds := flag.Int("rounds", 2_000_000, "round trips in all, shared by the pairs")
	stop := tracefile.Begin()
	defer stop()

	start := time.Now()
	perPair := *rounds / *pairs
	var wg sync.WaitGroup
	for p := 0; p < *pairs; p++ {
		ping, pong := make(chan int), make(chan int)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for v := range ping {
				pong <- v + 1
			}
		}()
		go func() {
			defer wg.Done()
			defer close(ping)
			v := 0
			for r := 0; r < perPair; r++ {
				ping <- v
				v = <-pong
			}
		}()
	}
	wg.Wait()
	fmt.Printf("round trips: %d in %.1fs\n", perPair**pairs, time.Since(start).Seconds())
}
