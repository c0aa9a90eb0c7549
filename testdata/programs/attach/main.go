// Command attach is the target of weft-attach's tests: it parks goroutines in
// known ways (channel receive, send on a full buffered channel, select,
// sync.Mutex.Lock, sleep), serves net/http/pprof on 127.0.0.1:0 and prints
// "PORT <n>" once everything is parked.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
)

var (
	recvCh   = make(chan int)    // receivers block here, nobody sends
	fullCh   = make(chan int, 3) // filled up, then senders block
	selA     = make(chan int)
	selB     = make(chan string, 2)
	labelCh  = make(chan int)
	mu       sync.Mutex
	sink     int
	started  sync.WaitGroup
	blockers sync.WaitGroup
)

//go:noinline
func receiver() {
	started.Done()
	sink += <-recvCh
}

//go:noinline
func sender(i int) {
	started.Done()
	fullCh <- i
}

//go:noinline
func selector() {
	started.Done()
	select {
	case v := <-selA:
		sink += v
	case s := <-selB:
		sink += len(s)
	}
}

//go:noinline
func locker() {
	started.Done()
	mu.Lock()
	sink++
	mu.Unlock()
}

//go:noinline
func sleeper() {
	started.Done()
	time.Sleep(time.Hour)
}

//go:noinline
func waiter() {
	started.Done()
	blockers.Wait()
}

// labelled waits on its own channel under pprof labels.
//
//go:noinline
func labelled() {
	pprof.Do(context.Background(), pprof.Labels("worker", "labelled", "id", "7"), func(context.Context) {
		started.Done()
		sink += <-labelCh
	})
}

// pinned parks locked to its OS thread.
//
//go:noinline
func pinned() {
	runtime.LockOSThread()
	started.Done()
	time.Sleep(time.Hour)
}

// syscaller blocks in a raw read(2) on a pipe nobody writes to, so it
// stays in the _Gsyscall state.
//
//go:noinline
func syscaller(fd int) {
	started.Done()
	var b [1]byte
	syscall.Read(fd, b[:])
}

func main() {
	nRecv := flag.Int("recv", 5, "goroutines receiving on one unbuffered channel")
	nSend := flag.Int("send", 4, "goroutines sending on one full buffered channel")
	nSel := flag.Int("select", 3, "goroutines in a select")
	nLock := flag.Int("lock", 2, "goroutines in sync.Mutex.Lock")
	nSleep := flag.Int("sleep", 2, "goroutines sleeping")
	nWait := flag.Int("wait", 2, "goroutines in sync.WaitGroup.Wait")
	nSys := flag.Int("syscall", 1, "goroutines blocked in a read(2) system call")
	flag.Parse()

	mu.Lock() // held forever so lockers park
	blockers.Add(1)
	for i := 0; i < cap(fullCh); i++ {
		fullCh <- i
	}
	selB <- "x"
	<-selB // leave selB empty but with len 0, cap 2

	spawn := func(n int, f func()) {
		started.Add(n)
		for i := 0; i < n; i++ {
			go f()
		}
	}
	spawn(*nRecv, receiver)
	started.Add(*nSend)
	for i := 0; i < *nSend; i++ {
		go sender(i)
	}
	spawn(*nSel, selector)
	spawn(*nLock, locker)
	spawn(*nSleep, sleeper)
	spawn(*nWait, waiter)
	spawn(1, labelled)
	spawn(1, pinned)
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	started.Add(*nSys)
	for i := 0; i < *nSys; i++ {
		go syscaller(fds[0])
	}
	started.Wait()
	time.Sleep(200 * time.Millisecond) // let every goroutine reach its park

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(ln, nil)
	fmt.Printf("PORT %d\n", ln.Addr().(*net.TCPAddr).Port)
	select {}
}
