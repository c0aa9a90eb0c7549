// selecttimers: select over channels, timers, tickers and a context
// deadline, plus plain sleeps ("select", "sleep", timer-driven unblocks).
package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"weft.test/programs/internal/tracefile"
)

func main() {
	stop := tracefile.Begin()
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()

	events := make(chan int)
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tick := time.NewTicker(time.Duration(2+i) * time.Millisecond)
			defer tick.Stop()
			idle := time.NewTimer(20 * time.Millisecond)
			defer idle.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					counts[i]++
					select {
					case events <- i:
					default: // nobody listening: drop
					}
				case <-idle.C:
					idle.Reset(20 * time.Millisecond)
				case <-time.After(time.Duration(30+i) * time.Millisecond):
				}
			}
		}(i)
	}

	got := 0
	for done := false; !done; {
		select {
		case <-events:
			got++
		case <-ctx.Done():
			done = true
		}
	}
	wg.Wait()

	// Sleeps of different lengths in parallel.
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(time.Duration(i) * time.Millisecond)
		}(i)
	}
	wg.Wait()
	fmt.Println("events received:", got, "ticks:", counts)
}
