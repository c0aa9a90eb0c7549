// Command healthy-svc is an HTTP service with net/http/pprof that keeps
// many goroutines busy and never strands one: every /work request fans out
// to helpers joined with a WaitGroup, hands a job to a worker pool and
// waits for its answer, and arms a timer it stops. Under steady traffic its
// goroutine count moves with in-flight requests and connections only.
// weft's check tests expect it to pass.
//
// Flags: -addr 127.0.0.1:0 (the chosen address is printed as
// "listening on HOST:PORT"), -workers 8.
package main

import (
	"context"
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
	addr    = flag.String("addr", "127.0.0.1:0", "listen address")
	workers = flag.Int("workers", 8, "worker pool size")

	jobs = make(chan job)
)

type job struct {
	n   int
	out chan int
}

func worker() {
	for j := range jobs {
		time.Sleep(time.Millisecond)
		j.out <- j.n * 2
	}
}

func janitor(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func workHandler(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()

	var wg sync.WaitGroup
	parts := make([]int, 3)
	for i := range parts {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			select {
			case <-time.After(3 * time.Millisecond):
				parts[i] = i
			case <-ctx.Done():
			}
		}(i)
	}
	wg.Wait()

	out := make(chan int, 1) // buffered: the worker never blocks if we leave
	select {
	case jobs <- job{n: len(parts), out: out}:
		select {
		case v := <-out:
			parts[0] += v
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}

	t := time.AfterFunc(time.Minute, func() {})
	t.Stop()
	fmt.Fprintf(w, "ok %d\n", parts[0])
}

func main() {
	flag.Parse()
	for i := 0; i < *workers; i++ {
		go worker()
	}
	go janitor(context.Background())
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
