// ebpf-lifecycle starts a known set of goroutines once told to, and says
// what it did, so weft's eBPF mode can be checked against it.
//
// It prints "READY" and waits for a line on stdin. Then main starts
// -workers goroutines running main.worker (every even-numbered one exits,
// the others block for good) and one main.spawner, which starts -children
// goroutines running main.child (all exit) and exits; then one main.waiter,
// which main wakes over a channel, exits. Each goroutine reports
// its own id and its creator's; the program prints
// "CREATED <goid> <parent goid> <start function>" and "EXITED <goid>" lines,
// "CHAN <address>" of the channel the blocked workers wait on,
// "WAKE <main's goid> <waiter's goid>", then "DONE",
// and waits until stdin closes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

var (
	mu      sync.Mutex
	lines   []string
	wg      sync.WaitGroup
	forever = make(chan struct{})
	index   = make(chan int, 10000)
	// The creator's goid, set before its go statements.
	mainID, spawnerID, waiterID uint64
	children                    int
	wake                        = make(chan struct{})
	waiterDone                  = make(chan struct{})
)

func goid() uint64 {
	var b [64]byte
	f := strings.Fields(string(b[:runtime.Stack(b[:], false)]))
	id, _ := strconv.ParseUint(f[1], 10, 64)
	return id
}

func record(format string, args ...any) {
	mu.Lock()
	lines = append(lines, fmt.Sprintf(format, args...))
	mu.Unlock()
}

func worker() {
	i := <-index
	me := goid()
	record("CREATED %d %d main.worker", me, mainID)
	if i%2 == 0 {
		record("EXITED %d", me)
		wg.Done()
		return
	}
	wg.Done()
	<-forever
}

func spawner() {
	spawnerID = goid()
	record("CREATED %d %d main.spawner", spawnerID, mainID)
	for i := 0; i < children; i++ {
		wg.Add(1)
		go child()
	}
	record("EXITED %d", spawnerID)
	wg.Done()
}

func child() {
	me := goid()
	record("CREATED %d %d main.child", me, spawnerID)
	record("EXITED %d", me)
	wg.Done()
}

// waiter is woken by main over an unbuffered channel (or, if it gets there
// first, wakes main): a known waker for the park/ready probes.
func waiter() {
	waiterID = goid()
	record("CREATED %d %d main.waiter", waiterID, mainID)
	<-wake
	record("EXITED %d", waiterID)
	close(waiterDone)
}

func main() {
	workers := flag.Int("workers", 20, "goroutines running main.worker")
	flag.IntVar(&children, "children", 6, "goroutines running main.child")
	flag.Parse()
	in := bufio.NewReader(os.Stdin)
	fmt.Println("READY")
	if _, err := in.ReadString('\n'); err != nil {
		return
	}
	mainID = goid()
	for i := 0; i < *workers; i++ {
		index <- i
	}
	wg.Add(*workers + 1)
	for i := 0; i < *workers; i++ {
		go worker()
	}
	go spawner()
	wg.Wait()
	go waiter()
	wake <- struct{}{}
	<-waiterDone
	mu.Lock()
	for _, l := range lines {
		fmt.Println(l)
	}
	mu.Unlock()
	fmt.Printf("CHAN %p\n", forever)
	fmt.Printf("WAKE %d %d\n", mainID, waiterID)
	fmt.Println("DONE")
	in.ReadString('\n')
}
