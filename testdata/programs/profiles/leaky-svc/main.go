// Command leaky-svc is an HTTP service with net/http/pprof whose /work
// handler strands goroutines the classic way: it asks helpers for results
// on an unbuffered channel and gives up after a short timeout, so each
// helper blocks forever on its send once the request is over. Exactly
// -helpers goroutines are stranded per request. weft's snapshot/check tests drive it
// with real traffic and expect `weft check` to name the stranded group.
//
// Flags:
//
//	-addr 127.0.0.1:0   where to listen (the chosen address is printed as
//	                    "listening on HOST:PORT")
//	-leak=true          false gives the helpers a buffered channel: same code
//	                    path, nothing stranded
//	-helpers 2          helpers per request (stranded per request with -leak)
//
// Besides the handler, it runs what a healthy service has: an idle worker
// pool, a ticker-driven refresher, and keep-alive connections.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"sync/atomic"
	"time"
)

var (
	leak    = flag.Bool("leak", true, "strand helper goroutines (false: buffered result channel)")
	helpers = flag.Int("helpers", 2, "helper goroutines per request")
	addr    = flag.String("addr", "127.0.0.1:0", "listen address")

	jobs     = make(chan func(), 64)
	served   atomic.Int64
	refreshs atomic.Int64
)

// poolWorker idles on the jobs channel (nothing sends on it in these tests).
func poolWorker() {
	for j := range jobs {
		j()
	}
}

// refresher wakes every 50ms, as a cache refresher would.
func refresher() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		refreshs.Add(1)
	}
}

// fetchSlow stands for an upstream call that only returns when the
// request's context ends (here: always after the handler gave up), then
// delivers its result. With an unbuffered channel and nobody receiving any
// more, the send never completes: one stranded goroutine per helper.
func fetchSlow(ctx context.Context, i int, res chan<- int) {
	<-ctx.Done()
	res <- i * i
}

func workHandler(w http.ResponseWriter, r *http.Request) {
	capacity := 0
	if !*leak {
		capacity = *helpers
	}
	res := make(chan int, capacity)
	for i := 0; i < *helpers; i++ {
		go fetchSlow(r.Context(), i, res)
	}
	got := 0
	timeout := time.After(2 * time.Millisecond)
wait:
	for got < *helpers {
		select {
		case <-res:
			got++
		case <-timeout:
			break wait
		}
	}
	served.Add(1)
	fmt.Fprintf(w, "ok %d/%d\n", got, *helpers)
}

func main() {
	flag.Parse()
	for i := 0; i < 4; i++ {
		go poolWorker()
	}
	go refresher()
	http.HandleFunc("/work", workHandler)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
