// Command live is the target of weft's live-trace tests and benchmark: an
// HTTP service with net/http/pprof (so /debug/pprof/trace streams its
// execution trace) plus endpoints that make things happen on demand, each
// answering with the wall-clock time it happened so a test can measure how
// long weft took to see it.
//
// Flags:
//
//	-addr 127.0.0.1:0   where to listen; prints "listening on HOST:PORT"
//	-pairs 0            channel ping-pong pairs running all the time (the
//	                    stress load of testdata/programs/stress, served live)
//	-parked 0           goroutines parked forever on a channel
//	-flight             start a runtime/trace.FlightRecorder (Go 1.25+) and
//	                    serve its snapshot at /debug/flight
//	-marks 0            emit a mark (see /mark) every this many milliseconds
//
// Endpoints:
//
//	/burst?n=N          starts N goroutines running burstWorker, which
//	                    park until /release; answers {"wall_ns": T}
//	/release            lets every burstWorker return
//	/mark               a fresh goroutine logs trace.Log(ctx, "weft-mark",
//	                    "<unix ns>") right away; answers {"wall_ns": T}
//	/selftrace?ms=M     holds runtime tracing itself for M ms (so a trace
//	                    request from outside fails meanwhile)
//	/exit               exits with status 3 (a target dying mid-stream)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime/trace"
	"strconv"
	"sync"
	"time"
)

var (
	addr   = flag.String("addr", "127.0.0.1:0", "listen address")
	pairs  = flag.Int("pairs", 0, "ping-pong pairs running all the time")
	parked = flag.Int("parked", 0, "goroutines parked forever")
	flight = flag.Bool("flight", false, "run a flight recorder (Go 1.25+) and serve /debug/flight")
	marks  = flag.Int("marks", 0, "emit a mark every this many milliseconds (0: only on /mark)")

	releaseMu sync.Mutex
	release   = make(chan struct{})
	forever   = make(chan struct{})
)

// startFlight is set by flight.go when the toolchain has FlightRecorder.
var startFlight func(mux *http.ServeMux) error

//go:noinline
func burstWorker(rel chan struct{}) {
	<-rel
}

//go:noinline
func parkedWorker() {
	<-forever
}

// markNow logs the current wall-clock time from a fresh goroutine: weft
// looks for the "weft-mark" log event and compares its arrival with this.
func markNow() int64 {
	now := time.Now().UnixNano()
	done := make(chan struct{})
	go func() {
		trace.Log(context.Background(), "weft-mark", strconv.FormatInt(now, 10))
		close(done)
	}()
	<-done
	return now
}

func pingPong() {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	go func() {
		v := 0
		for {
			ping <- v
			v = <-pong
		}
	}()
}

func wall(w http.ResponseWriter, t int64) {
	fmt.Fprintf(w, "{\"wall_ns\": %d}\n", t)
}

func main() {
	flag.Parse()
	for i := 0; i < *parked; i++ {
		go parkedWorker()
	}
	for i := 0; i < *pairs; i++ {
		pingPong()
	}
	if *marks > 0 {
		go func() {
			for range time.Tick(time.Duration(*marks) * time.Millisecond) {
				markNow()
			}
		}()
	}
	mux := http.DefaultServeMux
	mux.HandleFunc("/burst", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.FormValue("n"))
		releaseMu.Lock()
		rel := release
		releaseMu.Unlock()
		now := time.Now().UnixNano()
		for i := 0; i < n; i++ {
			go burstWorker(rel)
		}
		wall(w, now)
	})
	mux.HandleFunc("/release", func(w http.ResponseWriter, r *http.Request) {
		releaseMu.Lock()
		close(release)
		release = make(chan struct{})
		releaseMu.Unlock()
		fmt.Fprintln(w, "released")
	})
	mux.HandleFunc("/mark", func(w http.ResponseWriter, r *http.Request) {
		wall(w, markNow())
	})
	mux.HandleFunc("/selftrace", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.FormValue("ms"))
		if err := trace.Start(io.Discard); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		go func() {
			time.Sleep(time.Duration(ms) * time.Millisecond)
			trace.Stop()
		}()
		fmt.Fprintln(w, "tracing")
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		os.Exit(3)
	})
	if *flight {
		if startFlight == nil {
			fmt.Fprintln(os.Stderr, "live: -flight needs Go 1.25 or newer")
			os.Exit(2)
		}
		if err := startFlight(mux); err != nil {
			fmt.Fprintln(os.Stderr, "live:", err)
			os.Exit(1)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "live:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	os.Stdout.Sync()
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, "live:", err)
		os.Exit(1)
	}
}
