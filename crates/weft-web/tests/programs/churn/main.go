// churn: short-lived request goroutines served by a few long-lived
// workers, traced to a file. A steady rate of work spread over several
// seconds gives a trace of several generations (about one a second) whose
// early goroutines have all exited by the end, which is what the
// indexed-trace test of weft-web needs.
//
//	churn -trace out.trace -d 6s -rate 500
//	churn -trace big.trace -d 60s -rate 20000   # a big trace of many generations
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

type job struct {
	n     int
	reply chan int
}

func main() {
	out := flag.String("trace", "trace.out", "write the execution trace to this file")
	dur := flag.Duration("d", 6*time.Second, "how long to run")
	rate := flag.Int("rate", 500, "requests started per second")
	flag.Parse()

	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := trace.Start(f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	// One goroutine blocked for the whole run, as a leaked one would be:
	// its wait began long before any later generation.
	stuck := make(chan int)
	go forgotten(stuck)
	jobs := make(chan job)
	for i := 0; i < 4; i++ {
		go worker(jobs)
	}
	var wg sync.WaitGroup
	// At most a tick a millisecond; higher rates start several per tick.
	every := max(time.Second/time.Duration(max(*rate, 1)), time.Millisecond)
	perTick := max(int(int64(*rate)*int64(every)/int64(time.Second)), 1)
	tick := time.NewTicker(every)
	deadline := time.Now().Add(*dur)
	n := 0
	for time.Now().Before(deadline) {
		<-tick.C
		for i := 0; i < perTick; i++ {
			n++
			wg.Add(1)
			go request(jobs, n, &wg)
		}
	}
	tick.Stop()
	wg.Wait()

	trace.Stop()
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("requests: %d\n", n)
}

// forgotten waits for a value nobody sends.
func forgotten(c chan int) {
	<-c
}

// request hands one job to the workers and waits for the answer.
func request(jobs chan<- job, n int, wg *sync.WaitGroup) {
	defer wg.Done()
	reply := make(chan int)
	jobs <- job{n, reply}
	<-reply
}

// worker answers jobs after a little work.
func worker(jobs <-chan job) {
	for j := range jobs {
		x := 0
		for i := 0; i < 1000*(j.n%7+1); i++ {
			x += i ^ j.n
		}
		j.reply <- x
	}
}
