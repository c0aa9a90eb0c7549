// Package harness is the shared start-up of the bug programs: each program
// starts its goroutines, then either records an execution trace of itself
// for -duration and exits (-trace FILE), or serves net/http/pprof on -http
// until interrupted, so weft can stream its trace live.
package harness

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime/trace"
	"syscall"
	"time"
)

var (
	traceOut = flag.String("trace", "", "write an execution trace of the run to this file")
	duration = flag.Duration("duration", 2*time.Second, "with -trace: how long to run and trace")
	httpAddr = flag.String("http", "", "serve net/http/pprof on this address (\":0\" picks a port; printed on stdout)")
)

// Run parses flags, starts tracing or the pprof server, calls start (which
// must start the program's goroutines and return), then waits: for
// -duration when tracing, for SIGINT/SIGTERM when serving. It exits the
// process, so goroutines stuck by the program's bug do not keep it alive.
func Run(start func()) {
	flag.Parse()
	if *traceOut == "" && *httpAddr == "" {
		fmt.Fprintln(os.Stderr, "usage: give -trace FILE [-duration D] or -http ADDR")
		os.Exit(2)
	}
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			fail(err)
		}
		fmt.Printf("listening on %s\n", ln.Addr())
		go func() { fail(http.Serve(ln, nil)) }()
	}
	var stop func()
	if *traceOut != "" {
		f, err := os.Create(*traceOut)
		if err != nil {
			fail(err)
		}
		if err := trace.Start(f); err != nil {
			fail(err)
		}
		stop = func() {
			trace.Stop()
			if err := f.Close(); err != nil {
				fail(err)
			}
		}
	}
	start()
	if stop != nil {
		time.Sleep(*duration)
		stop()
		os.Exit(0)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	os.Exit(0)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

// Spin burns about d of CPU, so goroutines look busy in the trace.
func Spin(d time.Duration) int {
	n := 0
	for t := time.Now(); time.Since(t) < d; {
		for i := 0; i < 1000; i++ {
			n += i * i
		}
	}
	return n
}

// Busy keeps a small healthy load running alongside a bug: producers hand
// work to consumers over a channel, forever.
func Busy(workers int) {
	jobs := make(chan int)
	for i := 0; i < workers; i++ {
		go busyConsumer(jobs)
	}
	go busyProducer(jobs)
}

func busyProducer(jobs chan<- int) {
	for i := 0; ; i++ {
		jobs <- i
		if i%64 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

func busyConsumer(jobs <-chan int) {
	for j := range jobs {
		Spin(time.Duration(j%5) * time.Microsecond)
	}
}
