// pingpong: pairs of goroutines hand a counter back and forth over
// unbuffered channels, so nearly every event is a block/unblock pair.
package main

import (
	"flag"
	"fmt"
	"sync"

	"weft.test/programs/internal/tracefile"
)

func main() {
	pairs := flag.Int("pairs", 8, "goroutine pairs")
	rounds := flag.Int("rounds", 400, "round trips per pair")
	stop := tracefile.Begin()
	defer stop()

	var wg sync.WaitGroup
	total := make([]int, *pairs)
	for p := 0; p < *pairs; p++ {
		ping, pong := make(chan int), make(chan int)
		wg.Add(2)
		go func() { // the echo side
			defer wg.Done()
			for v := range ping {
				pong <- v + 1
			}
			close(pong)
		}()
		go func(p int) {
			defer wg.Done()
			v := 0
			for r := 0; r < *rounds; r++ {
				ping <- v
				v = <-pong
			}
			close(ping)
			for range pong {
			}
			total[p] = v
		}(p)
	}
	wg.Wait()
	sum := 0
	for _, v := range total {
		sum += v
	}
	fmt.Println("round trips:", sum)
}
