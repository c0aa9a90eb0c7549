// chanbench is the channel-heavy target of bench/ebpf: it counts its own
// operations, and prints the running total each time a line arrives on
// stdin (so the driver reads exact counts at the edges of its windows).
//
//	-mode pingpong: -pairs goroutine pairs bounce a value over unbuffered
//	                channels (every op blocks and wakes: gopark/ready hot)
//	-mode spawn:    -pairs loops each start a goroutine per op that sends
//	                one value back (goroutine creation and exit hot)
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
)

var ops atomic.Int64

func pingpong() {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	for {
		for i := 0; i < 100; i++ {
			ping <- i
			<-pong
		}
		ops.Add(100)
	}
}

func spawn() {
	done := make(chan int)
	for {
		for i := 0; i < 100; i++ {
			go func(v int) { done <- v }(i)
			<-done
		}
		ops.Add(100)
	}
}

func main() {
	mode := flag.String("mode", "pingpong", "pingpong or spawn")
	pairs := flag.Int("pairs", 2, "independent loops")
	flag.Parse()
	for i := 0; i < *pairs; i++ {
		switch *mode {
		case "pingpong":
			go pingpong()
		case "spawn":
			go spawn()
		default:
			fmt.Fprintln(os.Stderr, "unknown -mode", *mode)
			os.Exit(2)
		}
	}
	in := bufio.NewScanner(os.Stdin)
	fmt.Println("READY")
	for in.Scan() {
		fmt.Println(ops.Load())
	}
}
