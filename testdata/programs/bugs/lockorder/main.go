// lockorder: two tellers move money between the same two accounts, each
// locking its source account first. Sooner or later each holds the lock the
// other wants: a lock-order deadlock between two goroutines, while the rest
// of the program keeps running.
package main

import (
	"sync"
	"time"

	"weft.test/bugs/internal/harness"
)

type account struct {
	mu      sync.Mutex
	balance int
}

// transfer locks from, then to: the bug (the two tellers lock in opposite orders).
func transfer(from, to *account, amount int) {
	from.mu.Lock()
	defer from.mu.Unlock()
	harness.Spin(20 * time.Microsecond) // widens the window
	to.mu.Lock()
	defer to.mu.Unlock()
	from.balance -= amount
	to.balance += amount
}

func teller(from, to *account) {
	for {
		transfer(from, to, 1)
	}
}

func startBank() {
	a, b := &account{balance: 1000}, &account{balance: 1000}
	go teller(a, b)
	go teller(b, a)
}

func main() {
	harness.Run(func() {
		harness.Busy(3)
		startBank()
	})
}
