// Command anchor times panicparse (github.com/maruel/panicparse/v2), a
// widely used Go parser for goroutine dumps, on the same files as weft's
// bench, as the side-by-side anchor: ScanSnapshot (parse) and Aggregate
// (group by similar stack), with path guessing and source analysis off.
//
// usage: anchor ROUNDS FILE...
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/maruel/panicparse/v2/stack"
)

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// processCPU is the CPU time (user + system, all threads) used so far;
// steadier than wall time on a shared machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	rounds, _ := strconv.Atoi(os.Args[1])
	for _, path := range os.Args[2:] {
		data, err := os.ReadFile(path)
		if err != nil {
			panic(err)
		}
		opts := stack.DefaultOpts()
		opts.GuessPaths = false
		opts.AnalyzeSources = false
		var parse, group, parseCPU []time.Duration
		var goroutines, buckets int
		for i := 0; i < rounds; i++ {
			t, c := time.Now(), processCPU()
			snap, _, err := stack.ScanSnapshot(bytes.NewReader(data), io.Discard, opts)
			parse = append(parse, time.Since(t))
			parseCPU = append(parseCPU, processCPU()-c)
			if err != nil && err != io.EOF {
				panic(err)
			}
			t = time.Now()
			agg := snap.Aggregate(stack.AnyPointer)
			group = append(group, time.Since(t))
			goroutines, buckets = len(snap.Goroutines), len(agg.Buckets)
		}
		fmt.Printf("%s: panicparse %d goroutines, %d buckets | parse median %.1f ms, CPU %.1f ms (incl. Go GC threads) | aggregate median %.1f ms\n",
			path, goroutines, buckets, float64(median(parse))/1e6, float64(median(parseCPU))/1e6, float64(median(group))/1e6)
	}
}
