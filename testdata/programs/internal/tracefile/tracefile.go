// Package tracefile is the shared start-up of the test programs: it parses
// the -trace flag and starts runtime/trace writing to that file.
package tracefile

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/trace"
	"strings"
)

// Path is the trace file named by -trace (or $WEFT_TRACE_OUT).
var Path = flag.String("trace", defaultPath(), "write the execution trace to this file")

func defaultPath() string {
	if p := os.Getenv("WEFT_TRACE_OUT"); p != "" {
		return p
	}
	return "trace.out"
}

// Nth returns the file name for the n-th trace of a program that traces
// more than once: n == 0 is Path itself, later ones insert ".n" before the
// extension.
func Nth(n int) string {
	if n == 0 {
		return *Path
	}
	ext := filepath.Ext(*Path)
	return fmt.Sprintf("%s.%d%s", strings.TrimSuffix(*Path, ext), n, ext)
}

// Start begins tracing into file and returns the function that stops
// tracing and closes the file. Any failure ends the program with status 1.
func Start(file string) (stop func()) {
	f, err := os.Create(file)
	if err != nil {
		Fail(err)
	}
	if err := trace.Start(f); err != nil {
		Fail(err)
	}
	return func() {
		trace.Stop()
		if err := f.Close(); err != nil {
			Fail(err)
		}
	}
}

// Begin parses flags and starts tracing into Path.
func Begin() (stop func()) {
	flag.Parse()
	return Start(*Path)
}

// Fail reports err and exits with status 1.
func Fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
