// stress: the benchmark load, not run by the tests. Channel ping-pong
// pairs run until the trace written so far reaches -bytes (or -duration
// passes), producing a large trace of a predictable size.
//
//	stress -trace big.trace -pairs 200 -bytes 67108864 -duration 30s
//
// weft-harness: skip
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"

	"weft.test/programs/internal/tracefile"
)

// budgetWriter counts what the tracer writes and closes quit once the
// budget is spent. The tracer's own goroutine calls Write, so this needs
// no polling goroutine competing with the load.
type budgetWriter struct {
	f       *os.File
	written int64
	budget  int64
	once    sync.Once
	quit    chan struct{}
}

func (w *budgetWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written >= w.budget {
		w.once.Do(func() { close(w.quit) })
	}
	return n, err
}

func main() {
	pairs := flag.Int("pairs", 200, "goroutine pairs")
	budget := flag.Int64("bytes", 64<<20, "stop once the trace holds this many bytes")
	duration := flag.Duration("duration", 60*time.Second, "stop after this long at the latest")
	flag.Parse()

	f, err := os.Create(*tracefile.Path)
	if err != nil {
		tracefile.Fail(err)
	}
	quit := make(chan struct{})
	w := &budgetWriter{f: f, budget: *budget, quit: quit}
	if err := trace.Start(w); err != nil {
		tracefile.Fail(err)
	}
	start := time.Now()
	timer := time.AfterFunc(*duration, func() { w.once.Do(func() { close(quit) }) })

	var rounds atomic.Int64
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
			for {
				select {
				case <-quit:
					rounds.Add(int64(v))
					return
				case ping <- v:
				}
				v = <-pong
			}
		}()
	}
	wg.Wait()
	timer.Stop()
	trace.Stop()
	if err := f.Close(); err != nil {
		tracefile.Fail(err)
	}
	fmt.Printf("round trips: %d in %.1fs, trace bytes: %d\n", rounds.Load(), time.Since(start).Seconds(), w.written)
}
