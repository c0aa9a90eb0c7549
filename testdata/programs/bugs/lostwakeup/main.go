// lostwakeup: two ways a notification gets lost.
//   - awaitChan: the notifier sends on an unbuffered channel with a default
//     branch; the waiter is not receiving yet, so the send is dropped and
//     the waiter then waits forever.
//   - awaitCond: the notifier signals a sync.Cond before the waiter waits,
//     and the waiter has no predicate to re-check, so it waits forever.
package main

import (
	"sync"
	"time"

	"weft.test/bugs/internal/harness"
)

func awaitChan() {
	done := make(chan struct{})
	go func() {
		harness.Spin(50 * time.Microsecond)
		select {
		case done <- struct{}{}:
		default: // the bug: the notification is dropped if nobody listens yet
		}
	}()
	time.Sleep(50 * time.Millisecond) // the waiter is still preparing
	<-done
}

func awaitCond() {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	go func() {
		harness.Spin(50 * time.Microsecond)
		mu.Lock()
		cond.Signal() // the bug: nobody waits yet and no state records it
		mu.Unlock()
	}()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	cond.Wait()
	mu.Unlock()
}

func main() {
	harness.Run(func() {
		harness.Busy(3)
		go awaitChan()
		go awaitCond()
	})
}
