// Command service is a small HTTP service with net/http/pprof whose
// goroutines are in known states, so weft-profile's tests can assert exact
// counts, states and creators on real dumps from every Go toolchain.
//
// It listens on 127.0.0.1:0 and prints "listening on 127.0.0.1:PORT" once
// every goroutine below has reached the point where it parks. Each request
// to /leak strands one goroutine on a channel nobody else can reach (a
// genuine leak the runtime's goroutineleak profile can prove).
//
// Channels and locks the long-lived goroutines wait on are globals, so they
// stay reachable and are NOT reported by the leak profile.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// The counts the tests assert; keep in sync with
// crates/weft-profile/tests/real_programs.rs.
const (
	nWorkers   = 7 // main.(*pool).worker             chan receive         created by main.newPool
	nSenders   = 3 // main.sendForever                chan send            created by main.main
	nSelectors = 4 // main.selectLoop                 select               created by main.main
	nNoCases   = 2 // main.blockForever               select (no cases)    created by main.main
	nWGWaiters = 5 // main.waitGroupWaiter            sync.WaitGroup.Wait  created by main.main
	nLockers   = 6 // main.locker                     sync.Mutex.Lock      created by main.main
	nCondWait  = 2 // main.condWaiter                 sync.Cond.Wait       created by main.main
	nSleepers  = 3 // main.sleeper                    sleep                created by main.main
	nLabelled  = 4 // main.labelledWorker             chan receive         labels {note: "a b", worker: labelled}
	nGeneric   = 2 // main.genericWait[...]           chan receive         created by main.main
	nClosures  = 3 // main.startClosures.func1        chan receive         created by main.startClosures
	nLocked    = 1 // main.lockedWaiter               chan receive         locked to thread
	nConnRead  = 2 // main.connReader                 IO wait              created by main.serveConns
)

var (
	ready sync.WaitGroup

	jobs        = make(chan int)
	sendTo      = make(chan int)
	selA, selB  = make(chan int), make(chan int)
	never       sync.WaitGroup
	held        sync.Mutex
	condMu      sync.Mutex
	cond        = sync.NewCond(&condMu)
	labelledCh  = make(chan int)
	genericCh   = make(chan string)
	closureCh   = make(chan int)
	lockedCh    = make(chan int)
	clientConns []net.Conn
)

type pool struct{ jobs chan int }

func newPool(n int) *pool {
	p := &pool{jobs: jobs}
	for i := 0; i < n; i++ {
		ready.Add(1)
		go p.worker()
	}
	return p
}

func (p *pool) worker() {
	ready.Done()
	for j := range p.jobs {
		_ = j
	}
}

func sendForever() { ready.Done(); sendTo <- 1 }

func selectLoop() {
	ready.Done()
	for {
		select {
		case <-selA:
		case <-selB:
		}
	}
}

func blockForever() { ready.Done(); select {} }

func waitGroupWaiter() { ready.Done(); never.Wait() }

func locker() { ready.Done(); held.Lock() }

func condWaiter() {
	condMu.Lock()
	ready.Done()
	for {
		cond.Wait()
	}
}

func sleeper() { ready.Done(); time.Sleep(24 * time.Hour) }

func labelledWorker() { ready.Done(); <-labelledCh }

func startLabelled() {
	pprof.Do(context.Background(), pprof.Labels("worker", "labelled", "note", "a b"), func(context.Context) {
		for i := 0; i < nLabelled; i++ {
			ready.Add(1)
			go labelledWorker()
		}
	})
}

func genericWait[T any](ch chan T) { ready.Done(); <-ch }

func startClosures() {
	for i := 0; i < nClosures; i++ {
		ready.Add(1)
		go func() {
			ready.Done()
			<-closureCh
		}()
	}
}

func lockedWaiter() {
	runtime.LockOSThread()
	ready.Done()
	<-lockedCh
}

func connReader(c net.Conn) {
	buf := make([]byte, 1)
	ready.Done()
	c.Read(buf) // the client never writes: parked in IO wait
}

// serveConns opens nConnRead loopback connections whose server side blocks reading.
func serveConns() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	for i := 0; i < nConnRead; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			panic(err)
		}
		clientConns = append(clientConns, c)
		s, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		ready.Add(1)
		go connReader(s)
	}
	ln.Close()
}

// leakyHandler strands one goroutine per request on a channel only it can reach.
func leakyHandler(w http.ResponseWriter, r *http.Request) {
	ch := make(chan int)
	go func() {
		<-ch
	}()
	fmt.Fprintln(w, "ok")
}

func main() {
	never.Add(1)
	held.Lock()

	newPool(nWorkers)
	for i := 0; i < nSenders; i++ {
		ready.Add(1)
		go sendForever()
	}
	for i := 0; i < nSelectors; i++ {
		ready.Add(1)
		go selectLoop()
	}
	for i := 0; i < nNoCases; i++ {
		ready.Add(1)
		go blockForever()
	}
	for i := 0; i < nWGWaiters; i++ {
		ready.Add(1)
		go waitGroupWaiter()
	}
	for i := 0; i < nLockers; i++ {
		ready.Add(1)
		go locker()
	}
	for i := 0; i < nCondWait; i++ {
		ready.Add(1)
		go condWaiter()
	}
	for i := 0; i < nSleepers; i++ {
		ready.Add(1)
		go sleeper()
	}
	startLabelled()
	for i := 0; i < nGeneric; i++ {
		ready.Add(1)
		go genericWait(genericCh)
	}
	startClosures()
	ready.Add(1)
	go lockedWaiter()
	serveConns()

	ready.Wait()
	// Done() runs just before each park; give the last ones time to park.
	time.Sleep(100 * time.Millisecond)

	http.HandleFunc("/leak", leakyHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
