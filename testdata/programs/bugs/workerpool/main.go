// workerpool (healthy): a dispatcher feeds a fixed pool of workers under
// constant load; results are collected and acknowledged.
package main

import (
	"sync"
	"time"

	"weft.test/bugs/internal/harness"
)

type job struct{ n int }

func worker(jobs <-chan job, results chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	for j := range jobs {
		harness.Spin(time.Duration(j.n%20) * time.Microsecond)
		results <- j.n
	}
}

func dispatch(jobs chan<- job) {
	for i := 0; ; i++ {
		jobs <- job{i}
	}
}

func collect(results <-chan int) {
	sum := 0
	for r := range results {
		sum += r
	}
}

func startPool() {
	jobs := make(chan job, 16)
	results := make(chan int, 16)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go worker(jobs, results, &wg)
	}
	go dispatch(jobs)
	go collect(results)
}

func main() {
	harness.Run(startPool)
}
