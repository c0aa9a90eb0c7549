// ticker (healthy): a service loop driven by a time.Ticker polls a
// request queue, hands requests to short-lived handlers guarded by a
// mutex-protected cache, and a second loop reports stats on its own timer.
package main

import (
	"sync"
	"time"

	"weft.test/bugs/internal/harness"
)

type cache struct {
	mu sync.Mutex
	m  map[int]int
}

func (c *cache) get(k int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	if !ok {
		v = k * 2
		c.m[k] = v
	}
	return v
}

func handle(c *cache, req int, done chan<- struct{}) {
	harness.Spin(30 * time.Microsecond)
	c.get(req % 100)
	done <- struct{}{}
}

func serviceLoop(c *cache, quit <-chan struct{}) {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	done := make(chan struct{}, 64)
	req := 0
	for {
		select {
		case <-t.C:
			for i := 0; i < 4; i++ {
				req++
				go handle(c, req, done)
			}
		case <-done:
		case <-quit:
			return
		}
	}
}

func statsLoop(c *cache) {
	for range time.Tick(50 * time.Millisecond) {
		c.mu.Lock()
		_ = len(c.m)
		c.mu.Unlock()
	}
}

func main() {
	harness.Run(func() {
		c := &cache{m: map[int]int{}}
		go serviceLoop(c, make(chan struct{}))
		go statsLoop(c)
	})
}
