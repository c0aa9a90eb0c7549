// Command schedgap is the target of weft's scheduling-gap benchmark and of
// weft top's end-to-end tests.
//
// It parks many goroutines in a few distinct stacks (channel receive, channel
// send, select, WaitGroup wait), optionally keeps leaking more of them, serves
// net/http/pprof on a loopback port, and runs a 1 ms ticker goroutine that
// measures how late it is woken. A stop-the-world pause in the target (such as
// the one a debug=2 goroutine dump causes) shows up as a large gap.
//
// Endpoints besides /debug/pprof/:
//
//	/schedgap/window  JSON stats of the ticker since the previous call, then starts a new window
//	/schedgap/quit    exits with status 0
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

// Each parking function has its own name so that every stack is a distinct
// group in weft's views; noinline keeps them on the stack.

//go:noinline
func parkedReceiver(ch chan int) { <-ch }

//go:noinline
func parkedSender(ch chan int) { ch <- 1 }

//go:noinline
func parkedSelector(a, b chan int) {
	select {
	case <-a:
	case <-b:
	}
}

//go:noinline
func parkedWaiter(wg *sync.WaitGroup) { wg.Wait() }

//go:noinline
func leakyHandler(ch chan int) { <-ch }

// park starts n goroutines spread over the four parking stacks. The channels
// are never used again, so the goroutines stay parked for the program's life.
func park(n int) {
	recvCh := make(chan int)
	sendCh := make(chan int)
	selA, selB := make(chan int), make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	for i := 0; i < n; i++ {
		switch i % 10 {
		case 0, 1, 2, 3:
			go parkedReceiver(recvCh)
		case 4, 5, 6:
			go parkedSelector(selA, selB)
		case 7, 8:
			go parkedSender(sendCh)
		default:
			go parkedWaiter(&wg)
		}
	}
}

// leak starts perSecond goroutines every second that block forever: the
// shape of a request handler leaking one goroutine per request.
func leak(perSecond int) {
	never := make(chan int)
	for range time.Tick(time.Second) {
		for i := 0; i < perSecond; i++ {
			go leakyHandler(never)
		}
	}
}

// gapMeter records the intervals between ticks of a 1 ms ticker.
type gapMeter struct {
	mu     sync.Mutex
	period time.Duration
	start  time.Time
	gaps   []time.Duration
}

type windowStats struct {
	WindowMs    float64 `json:"window_ms"`
	Ticks       int     `json:"ticks"`
	MaxGapMs    float64 `json:"max_gap_ms"`
	P99GapMs    float64 `json:"p99_gap_ms"`
	MissedTicks int64   `json:"missed_ticks"`
	Goroutines  int     `json:"goroutines"`
}

func (m *gapMeter) run() {
	t := time.NewTicker(m.period)
	last := time.Now()
	for now := range t.C {
		// Measure from our own wake-up time, not the tick's timestamp: what
		// matters is when this goroutine actually got to run.
		_ = now
		woke := time.Now()
		gap := woke.Sub(last)
		last = woke
		m.mu.Lock()
		m.gaps = append(m.gaps, gap)
		m.mu.Unlock()
	}
}

// window returns the stats since the previous call and starts a new window.
func (m *gapMeter) window() windowStats {
	m.mu.Lock()
	gaps := m.gaps
	start := m.start
	m.gaps = make([]time.Duration, 0, cap(gaps))
	m.start = time.Now()
	m.mu.Unlock()

	st := windowStats{WindowMs: ms(time.Since(start)), Ticks: len(gaps)}
	if len(gaps) == 0 {
		return st
	}
	sorted := append([]time.Duration(nil), gaps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	st.MaxGapMs = ms(sorted[len(sorted)-1])
	st.P99GapMs = ms(sorted[(len(sorted)*99)/100])
	for _, g := range gaps {
		// A gap of k periods means k-1 ticks were never delivered
		// (time.Ticker drops ticks for slow receivers).
		if k := int64((g + m.period/2) / m.period); k > 1 {
			st.MissedTicks += k - 1
		}
	}
	return st
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func main() {
	n := flag.Int("n", 100000, "parked goroutines to start")
	leakRate := flag.Int("leak", 0, "goroutines to leak per second (0: none)")
	addr := flag.String("addr", "127.0.0.1:0", "address for net/http/pprof")
	period := flag.Duration("tick", time.Millisecond, "ticker period of the gap meter")
	flag.Parse()

	park(*n)
	if *leakRate > 0 {
		go leak(*leakRate)
	}
	meter := &gapMeter{period: *period, start: time.Now(), gaps: make([]time.Duration, 0, 1<<16)}
	go meter.run()

	http.HandleFunc("/schedgap/window", func(w http.ResponseWriter, r *http.Request) {
		st := meter.window()
		st.Goroutines = runtime.NumGoroutine()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	})
	http.HandleFunc("/schedgap/quit", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "bye")
		go func() { time.Sleep(50 * time.Millisecond); os.Exit(0) }()
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "schedgap:", err)
		os.Exit(1)
	}
	// The first line on stdout is what scripts and tests wait for.
	fmt.Printf("pprof: http://%s\n", ln.Addr())
	os.Stdout.Sync()
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, "schedgap:", err)
		os.Exit(1)
	}
}
