// Command expreader is the benchmark anchor: it reads every event of a Go
// execution trace with golang.org/x/exp/trace (the published copy of Go's
// own streaming reader) and prints how many events of each kind it saw.
//
//	expreader big.trace
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"

	"golang.org/x/exp/trace"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: expreader TRACE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	r, err := trace.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Counted by kind number and named only at the end: a string-keyed
	// map update per event would charge the anchor for work of our own.
	counts := map[trace.EventKind]int{}
	total := 0
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "after %d events: %v\n", total, err)
			os.Exit(1)
		}
		counts[ev.Kind()]++
		total++
	}
	byName := map[string]int{}
	for k, n := range counts {
		byName[k.String()] += n
	}
	kinds := make([]string, 0, len(byName))
	for k := range byName {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Printf("events: %d\n", total)
	for _, k := range kinds {
		fmt.Printf("  %-16s %d\n", k, byName[k])
	}
}
