// syscalls: pipes, file reads and writes, and a child process, so the
// trace holds syscall ranges, including ones that block and lose their P.
package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"weft.test/programs/internal/tracefile"
)

func main() {
	stop := tracefile.Begin()
	defer stop()

	dir, err := os.MkdirTemp("", "weft-syscalls-")
	if err != nil {
		tracefile.Fail(err)
	}
	defer os.RemoveAll(dir)

	var wg sync.WaitGroup
	// os.Pipe file descriptors are blocking on some paths; a reader that
	// waits on one sits in a syscall until the writer catches up.
	r, w, err := os.Pipe()
	if err != nil {
		tracefile.Fail(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		n, _ := io.Copy(io.Discard, r)
		fmt.Println("piped bytes:", n)
	}()
	buf := make([]byte, 4096)
	for i := 0; i < 200; i++ {
		if _, err := w.Write(buf); err != nil {
			tracefile.Fail(err)
		}
	}
	w.Close()

	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := filepath.Join(dir, fmt.Sprintf("f%d", i))
			for k := 0; k < 20; k++ {
				if err := os.WriteFile(name, buf[:1024*(k%4+1)], 0o600); err != nil {
					tracefile.Fail(err)
				}
				if _, err := os.ReadFile(name); err != nil {
					tracefile.Fail(err)
				}
			}
		}(i)
	}

	// A child process: fork/exec and wait are long syscalls.
	self, err := os.Executable()
	if err == nil && os.Getenv("WEFT_SYSCALLS_CHILD") == "" {
		cmd := exec.Command(self, "-trace", filepath.Join(dir, "child.trace"))
		cmd.Env = append(os.Environ(), "WEFT_SYSCALLS_CHILD=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			tracefile.Fail(fmt.Errorf("child: %v: %s", err, out))
		}
	}
	wg.Wait()
	fmt.Println("done")
}
