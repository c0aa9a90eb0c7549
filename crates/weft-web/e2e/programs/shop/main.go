// Command shop is the capture of weft's browser tests: a small pipeline
// (orders -> packers -> shippers) that runs for a moment under
// runtime/trace, plus goroutines left blocked when the trace stops (a
// forgotten reply channel and a lock held too long), so the capture has
// groups, wake flows, stacks and findings.
//
//	shop -trace FILE
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

type order struct{ id int }

//go:noinline
func takeOrders(out chan<- order, n int) {
	for i := 0; i < n; i++ {
		out <- order{i}
	}
	close(out)
}

//go:noinline
func packer(in <-chan order, out chan<- order, wg *sync.WaitGroup) {
	defer wg.Done()
	for o := range in {
		x := 0
		for i := 0; i < 2000; i++ {
			x += i * o.id
		}
		_ = x
		out <- o
	}
}

//go:noinline
func shipper(in <-chan order, done *sync.WaitGroup) {
	for range in {
		time.Sleep(20 * time.Microsecond)
		done.Done()
	}
}

//go:noinline
func awaitReply(reply chan string) {
	<-reply // nobody ever answers: a leak
}

//go:noinline
func lockedWorker(mu *sync.Mutex) {
	mu.Lock()
	defer mu.Unlock()
}

func main() {
	out := flag.String("trace", "shop.trace", "trace file")
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
	const n = 3000
	orders, packed := make(chan order), make(chan order)
	var shipped, packers sync.WaitGroup
	shipped.Add(n)
	go takeOrders(orders, n)
	for i := 0; i < 4; i++ {
		packers.Add(1)
		go packer(orders, packed, &packers)
	}
	for i := 0; i < 3; i++ {
		go shipper(packed, &shipped)
	}
	for i := 0; i < 40; i++ {
		go awaitReply(make(chan string))
	}
	var mu sync.Mutex
	mu.Lock()
	for i := 0; i < 10; i++ {
		go lockedWorker(&mu)
	}
	shipped.Wait()
	packers.Wait()
	time.Sleep(50 * time.Millisecond) // the blocked ones park
	trace.Stop()
	f.Close()
	mu.Unlock()
	fmt.Println("shipped", n)
}
