// Command gen records the execution trace used by weft's browser frame
// benchmark: many goroutines (100k by default) in a few groups, woken in
// rounds so that every goroutine has a few dozen state spans.
//
//	gen -out FILE [-g 100000] [-rounds 10]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/trace"
	"sync"
)

//go:noinline
func sleeper(in chan struct{}, wg *sync.WaitGroup) {
	for range in {
		wg.Done()
	}
}

//go:noinline
func waiter(in chan struct{}, wg *sync.WaitGroup) {
	for range in {
		x := 0
		for i := 0; i < 200; i++ {
			x += i
		}
		_ = x
		wg.Done()
	}
}

//go:noinline
func driver(chans []chan struct{}, wg *sync.WaitGroup) {
	for _, c := range chans {
		c <- struct{}{}
	}
	wg.Done()
}

func main() {
	out := flag.String("out", "frames.trace", "trace file")
	n := flag.Int("g", 100000, "goroutines")
	rounds := flag.Int("rounds", 10, "wake rounds")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := trace.Start(f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	chans := make([]chan struct{}, *n)
	var done sync.WaitGroup
	for i := range chans {
		chans[i] = make(chan struct{})
		if i%2 == 0 {
			go sleeper(chans[i], &done)
		} else {
			go waiter(chans[i], &done)
		}
	}
	const drivers = 8
	for r := 0; r < *rounds; r++ {
		var dw sync.WaitGroup
		done.Add(*n)
		for d := 0; d < drivers; d++ {
			dw.Add(1)
			lo, hi := d*len(chans)/drivers, (d+1)*len(chans)/drivers
			go driver(chans[lo:hi], &dw)
		}
		dw.Wait()
		done.Wait()
	}
	trace.Stop()
	f.Close()
	fmt.Println("wrote", *out)
}
