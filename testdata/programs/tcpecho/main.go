// tcpecho: an echo server and several clients over loopback TCP, so the
// trace holds "network" blocking and netpoller unblocks.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sync"

	"weft.test/programs/internal/tracefile"
)

func main() {
	stop := tracefile.Begin()
	defer stop()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tracefile.Fail(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()

	const clients, lines = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			for n := 0; n < lines; n++ {
				msg := fmt.Sprintf("client %d line %d\n", i, n)
				if _, err := io.WriteString(c, msg); err != nil {
					errs <- err
					return
				}
				back, err := r.ReadString('\n')
				if err != nil || back != msg {
					errs <- fmt.Errorf("echo mismatch: %q %v", back, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	ln.Close()
	close(errs)
	for err := range errs {
		tracefile.Fail(err)
	}
	fmt.Println("echoed lines:", clients*lines)
}
