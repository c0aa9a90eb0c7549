// fanout: each request asks several replicas and keeps the first answer.
// The collector returns after the first result, so the other replicas'
// sends on the unbuffered channel never complete: every request strands
// its slower senders, and they pile up (a goroutine leak).
package main

import (
	"time"

	"weft.test/bugs/internal/harness"
)

func search(replica int, query string, results chan<- string) {
	harness.Spin(time.Duration(50+replica*30) * time.Microsecond)
	results <- query // blocks forever for every replica but the fastest
}

// firstResult returns the first answer; the bug: results is unbuffered and
// nobody drains it after the first.
func firstResult(query string) string {
	results := make(chan string)
	for r := 0; r < 4; r++ {
		go search(r, query, results)
	}
	return <-results
}

func handle(query string) {
	_ = firstResult(query)
}

func serve() {
	for i := 0; ; i++ {
		go handle("q")
		time.Sleep(10 * time.Millisecond)
	}
}

func main() {
	harness.Run(func() {
		harness.Busy(2)
		go serve()
	})
}
