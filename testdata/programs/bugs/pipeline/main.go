// pipeline (healthy): generate -> square (3 in parallel) -> merge -> sink,
// all connected by unbuffered channels, running continuously.
package main

import (
	"sync"
	"time"

	"weft.test/bugs/internal/harness"
)

func generate(out chan<- int) {
	for i := 0; ; i++ {
		out <- i
	}
}

func square(in <-chan int, out chan<- int) {
	for v := range in {
		harness.Spin(5 * time.Microsecond)
		out <- v * v
	}
}

func merge(ins []chan int, out chan<- int) {
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Add(1)
		go func(in <-chan int) {
			defer wg.Done()
			for v := range in {
				out <- v
			}
		}(in)
	}
	wg.Wait()
	close(out)
}

func sink(in <-chan int) {
	n := 0
	for range in {
		n++
	}
}

func startPipeline() {
	src := make(chan int)
	var mids []chan int
	for i := 0; i < 3; i++ {
		mid := make(chan int)
		mids = append(mids, mid)
		go square(src, mid)
	}
	out := make(chan int)
	go generate(src)
	go merge(mids, out)
	go sink(out)
}

func main() {
	harness.Run(startPipeline)
}
