// Command target parks a configurable number of goroutines (default
// 100000) in a few realistic shapes with stacks of varied depth, serves
// net/http/pprof on 127.0.0.1:0 and prints "listening on ADDR".
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"sync"
	"time"
)

var (
	recvCh = make(chan int)
	selA   = make(chan int)
	selB   = make(chan int)
	mu     sync.Mutex
	never  sync.WaitGroup
	ready  sync.WaitGroup
)

type handler struct{ id int }

//go:noinline
func descend(depth int, park func()) {
	if depth == 0 {
		ready.Done()
		park()
		return
	}
	descend(depth-1, park)
}

func (h *handler) serve() { descend(1+h.id%4, func() { <-recvCh }) }
func (h *handler) poll() {
	descend(h.id%3, func() {
		select {
		case <-selA:
		case <-selB:
		}
	})
}
func (h *handler) lock()   { descend(h.id%3, func() { mu.Lock() }) }
func (h *handler) wait()   { descend(h.id%2, func() { never.Wait() }) }
func (h *handler) snooze() { descend(h.id%3, func() { time.Sleep(24 * time.Hour) }) }

func main() {
	n := flag.Int("n", 100000, "goroutines to park")
	flag.Parse()
	mu.Lock()
	never.Add(1)
	for i := 0; i < *n; i++ {
		h := &handler{id: i}
		ready.Add(1)
		switch i % 10 {
		case 0, 1, 2, 3:
			go h.serve()
		case 4, 5, 6:
			go h.poll()
		case 7, 8:
			go h.lock()
		case 9:
			if i%20 == 9 {
				go h.wait()
			} else {
				go h.snooze()
			}
		}
	}
	ready.Wait()
	time.Sleep(200 * time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	http.Serve(ln, nil)
}
