// restart: starts and stops tracing several times while goroutines keep
// running across the gaps. Each start writes a complete trace of its own
// (runtime/trace begins with a fresh header and generation each time), so
// each goes to its own file: FILE, FILE.1, FILE.2, ... (see tracefile.Nth).
package main

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"weft.test/programs/internal/tracefile"
)

func main() {
	times := flag.Int("times", 3, "how many traces to record")
	flag.Parse()

	var ticks atomic.Int64
	quit := make(chan struct{})
	var wg sync.WaitGroup
	// Goroutines that exist before the first trace and outlive the last,
	// in different states: running loops, blocked on a channel, sleeping.
	blocked := make(chan int)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-quit:
					return
				case <-blocked:
				case <-time.After(time.Millisecond):
					ticks.Add(1)
				}
			}
		}()
	}
	for n := 0; n < *times; n++ {
		stop := tracefile.Start(tracefile.Nth(n))
		// Some activity that starts and ends inside this trace.
		done := make(chan bool)
		for i := 0; i < 5; i++ {
			go func() { blocked <- i; done <- true }()
		}
		for i := 0; i < 5; i++ {
			<-done
		}
		time.Sleep(20 * time.Millisecond)
		stop()
		time.Sleep(5 * time.Millisecond) // untraced gap
	}
	close(quit)
	wg.Wait()
	fmt.Println("traces:", *times, "ticks > 0:", ticks.Load() > 0)
}
