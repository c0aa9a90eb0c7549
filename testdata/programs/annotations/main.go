// annotations: user tasks (nested, ending on other goroutines), regions,
// logs and pprof goroutine labels, while a CPU profile runs so the trace
// also holds CPU samples.
package main

import (
	"context"
	"fmt"
	"io"
	"runtime/pprof"
	"runtime/trace"
	"sync"

	"weft.test/programs/internal/tracefile"
)

func spin(n int) int {
	x := 0
	for i := 0; i < n; i++ {
		x = x*31 + i
	}
	return x
}

func main() {
	stop := tracefile.Begin()
	defer stop()
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		tracefile.Fail(err)
	}
	defer pprof.StopCPUProfile()

	ctx, root := trace.NewTask(context.Background(), "request")
	trace.Log(ctx, "phase", "start")
	var wg sync.WaitGroup
	results := make(chan int, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		sub, task := trace.NewTask(ctx, fmt.Sprintf("shard-%d", i))
		go func(i int) {
			defer wg.Done()
			defer task.End() // the task ends on a different goroutine than it began
			labels := pprof.Labels("shard", fmt.Sprint(i), "kind", "worker")
			pprof.Do(sub, labels, func(ctx context.Context) {
				trace.WithRegion(ctx, "compute", func() {
					trace.Logf(ctx, "progress", "shard %d half", i)
					r := trace.StartRegion(ctx, "inner")
					results <- spin(3_000_000 + i)
					r.End()
				})
				trace.Log(ctx, "", "unkeyed message")
			})
		}(i)
	}
	// A region that is still open while tracing continues, and one on a
	// context without a task.
	outer := trace.StartRegion(ctx, "wait-all")
	wg.Wait()
	outer.End()
	trace.WithRegion(context.Background(), "no-task", func() {
		trace.Log(context.Background(), "k", "v")
	})
	close(results)
	x := 0
	for r := range results {
		x ^= r
	}
	trace.Log(ctx, "phase", "done")
	root.End()
	fmt.Println("xor:", x)
}
