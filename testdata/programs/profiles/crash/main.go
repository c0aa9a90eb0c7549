// Command crash dies in a chosen way so tests can parse real fatal
// tracebacks from its stderr:
//
//	crash deadlock  all goroutines asleep: "fatal error: all goroutines are asleep - deadlock!"
//	crash panic     an unrecovered panic while other goroutines are parked
//	crash nil       a nil pointer dereference (run with GOTRACEBACK=crash for gp=/m= headers and registers)
//
// In every mode nStuck goroutines are parked in main.stuck on chan receive
// and nMutexed in main.mutexed on sync.Mutex.Lock, all created by main.park.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

const (
	nStuck   = 4
	nMutexed = 2
)

var (
	stuckCh = make(chan int)
	mu      sync.Mutex
	ready   sync.WaitGroup
)

func stuck()   { ready.Done(); <-stuckCh }
func mutexed() { ready.Done(); mu.Lock() }

func park() {
	mu.Lock()
	for i := 0; i < nStuck; i++ {
		ready.Add(1)
		go stuck()
	}
	for i := 0; i < nMutexed; i++ {
		ready.Add(1)
		go mutexed()
	}
	ready.Wait()
	time.Sleep(50 * time.Millisecond)
}

type thing struct{ n int }

//go:noinline
func explode(t *thing) int { return t.n }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: crash deadlock|panic|nil")
		os.Exit(2)
	}
	park()
	switch os.Args[1] {
	case "deadlock":
		<-stuckCh
	case "panic":
		panic(fmt.Errorf("boom: %d goroutines parked", nStuck+nMutexed))
	case "nil":
		fmt.Println(explode(nil))
	}
}
