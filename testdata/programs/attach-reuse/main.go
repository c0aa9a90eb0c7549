// Command attach-reuse is the target of weft-attach's stack-reuse test.
//
// One goroutine parks on a channel receive in park(), called alternately
// from viaA and viaB: the same function at the same depth under callers of
// equal frame size, so every park leaves the same saved pc and sp, and with
// GOMAXPROCS=1 usually the same sudog; only the caller (and so the stack)
// differs. Each line read from stdin wakes it once; after waking it prints
// the caller it is about to park under ("A" or "B"). A few other goroutines
// stay parked for good, so there is always something to reuse.
package main

import (
	"bufio"
	"fmt"
	"os"
)

var (
	wake  = make(chan int)
	never = make(chan int)
	sink  int
)

//go:noinline
func park() int { return <-wake }

//go:noinline
func viaA() int { return park() + 1 }

//go:noinline
func viaB() int { return park() + 2 }

//go:noinline
func idle() { <-never }

func loop() {
	for i := 0; ; i++ {
		if i%2 == 0 {
			fmt.Println("A")
			sink += viaA()
		} else {
			fmt.Println("B")
			sink += viaB()
		}
	}
}

func main() {
	for i := 0; i < 4; i++ {
		go idle()
	}
	go loop()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		wake <- 1
	}
}
