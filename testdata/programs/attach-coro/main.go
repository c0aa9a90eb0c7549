// Command attach-coro is the target of weft-attach's coroutine test.
//
// An iter.Pull coroutine yields from yieldA and yieldB alternately: the
// same depth and frame size, so it parks at the same pc and sp each time,
// and a coroutine switch changes neither g.waitsince nor g.trackingSeq.
// Each line read from stdin pulls one value; main then prints which
// function the coroutine is parked in ("A" or "B").
package main

import (
	"bufio"
	"fmt"
	"iter"
	"os"
)

//go:noinline
func yieldA(yield func(int) bool, i int) bool { return yield(i) }

//go:noinline
func yieldB(yield func(int) bool, i int) bool { return yield(i) }

func seq(yield func(int) bool) {
	for i := 0; ; i++ {
		if i%2 == 0 {
			if !yieldA(yield, i) {
				return
			}
		} else if !yieldB(yield, i) {
			return
		}
	}
}

func main() {
	next, stop := iter.Pull(seq)
	defer stop()
	in := bufio.NewScanner(os.Stdin)
	for {
		v, _ := next()
		if v%2 == 0 {
			fmt.Println("A")
		} else {
			fmt.Println("B")
		}
		if !in.Scan() {
			return
		}
	}
}
