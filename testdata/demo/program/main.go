// Command demo is the program behind weft's bundled demo capture
// (testdata/demo/demo.trace, re-recorded by testdata/demo/record.sh): a
// small order service with healthy parts and three classic bugs, so every
// view of the web UI has something to show.
//
//   - healthy: a dispatcher feeds orders to 8 workers over a channel, a
//     collector gathers results, a ticker loop spawns short handlers that
//     share a mutex-guarded cache;
//   - leak: each price lookup asks 3 replicas and keeps the first answer;
//     the other replicas block forever on the unbuffered reply channel;
//   - deadlock: two tellers move money between the same two accounts,
//     locking them in opposite orders, until each holds what the other wants;
//   - contention: the cache lock is held across a slow refresh.
//
// Usage: demo -trace FILE [-duration 3s]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

// spin burns about d of CPU so goroutines look busy in the trace.
func spin(d time.Duration) int {
	n := 0
	for t := time.Now(); time.Since(t) < d; {
		n++
	}
	return n
}

type order struct{ id, qty int }

func worker(jobs <-chan order, results chan<- int) {
	for o := range jobs {
		spin(time.Duration(20+o.qty) * time.Microsecond)
		results <- o.id
	}
}

func dispatcher(jobs chan<- order) {
	for i := 0; ; i++ {
		jobs <- order{id: i, qty: i % 50}
		if i%64 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}

func collector(results <-chan int) {
	total := 0
	for r := range results {
		total += r
	}
}

// askReplica answers a price lookup; all but the fastest block forever.
func askReplica(replica int, replies chan<- int) {
	spin(time.Duration(30+replica*40) * time.Microsecond)
	replies <- replica
}

// lookupPrice keeps the first reply and returns: the leak.
func lookupPrice() int {
	replies := make(chan int)
	for r := 0; r < 3; r++ {
		go askReplica(r, replies)
	}
	return <-replies
}

func priceClient() {
	for {
		lookupPrice()
		time.Sleep(20 * time.Millisecond)
	}
}

type account struct {
	mu      sync.Mutex
	balance int
}

// transfer locks from, then to: the two tellers lock in opposite orders.
func transfer(from, to *account) {
	from.mu.Lock()
	defer from.mu.Unlock()
	spin(20 * time.Microsecond)
	to.mu.Lock()
	defer to.mu.Unlock()
	from.balance--
	to.balance++
}

func teller(from, to *account) {
	for {
		transfer(from, to)
	}
}

var cache struct {
	mu   sync.Mutex
	hits int
}

func handleTick(n int) {
	cache.mu.Lock()
	if n%10 == 0 {
		spin(300 * time.Microsecond) // slow refresh under the lock
	}
	cache.hits++
	cache.mu.Unlock()
}

func tickerLoop() {
	t := time.NewTicker(5 * time.Millisecond)
	for n := 0; ; n++ {
		<-t.C
		for k := 0; k < 4; k++ {
			go handleTick(n*4 + k)
		}
	}
}

func main() {
	out := flag.String("trace", "", "write the execution trace here")
	dur := flag.Duration("duration", 3*time.Second, "how long to run and trace")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: demo -trace FILE [-duration D]")
		os.Exit(2)
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := trace.Start(f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	jobs, results := make(chan order), make(chan int, 16)
	for i := 0; i < 8; i++ {
		go worker(jobs, results)
	}
	go dispatcher(jobs)
	go collector(results)
	go priceClient()
	a, b := &account{balance: 100}, &account{balance: 100}
	go teller(a, b)
	go teller(b, a)
	go tickerLoop()
	time.Sleep(*dur)
	trace.Stop()
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
