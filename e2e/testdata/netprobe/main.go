// netprobe is the static helper of berth's network benchmarks (e2e/bench_network_test.go): a
// TCP sink, a TCP sender that reports its throughput, and a DNS lookup timer. It is copied into
// the benchmark's image at /bin/netprobe and also run as a plain process. It sends, reads and
// prints as the netprobe of the side-by-side comparison with Docker (compare.sh) does, so that
// berth's figures and Docker's reference figures are taken the same way.
//
//	netprobe sink ADDR        accept TCP connections on ADDR and discard what they send
//	netprobe send ADDR MIB    send MIB MiB to ADDR in 1 MiB writes; print "<float> MiB/s"
//	netprobe dns NAME COUNT   look NAME up COUNT times; print "<float> ms/lookup fails=<n>"
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		usage()
	}
	switch mode := os.Args[1]; {
	case mode == "sink" && len(os.Args) == 3:
		sink(os.Args[2])
	case mode == "send" && len(os.Args) == 4:
		send(os.Args[2], count(os.Args[3]))
	case mode == "dns" && len(os.Args) == 4:
		lookups(os.Args[2], count(os.Args[3]))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: netprobe sink ADDR | send ADDR MIB | dns NAME COUNT")
	os.Exit(2)
}

// count parses a positive number argument.
func count(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "netprobe: %q is not a positive number\n", s)
		os.Exit(2)
	}
	return n
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "netprobe:", err)
	os.Exit(1)
}

// sink accepts connections for ever and reads each to its end.
func sink(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fail(err)
		}
		go func() {
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}()
	}
}

// send connects to addr, retrying for about 5 s while the sink starts, writes mib MiB, closes its
// side and waits for the sink to close its own: the time from the connection to that EOF is what
// the rate is taken over.
func send(addr string, mib int) {
	var c net.Conn
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fail(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer c.Close()
	// A sink that went away without a reset must not hang the benchmark.
	if err := c.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
		fail(err)
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	for range mib {
		if _, err := c.Write(buf); err != nil {
			fail(err)
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		fail(err)
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		fail(err)
	}
	fmt.Printf("%.1f MiB/s\n", float64(mib)/time.Since(start).Seconds())
}

// lookups resolves name n times with Go's own resolver and prints the mean time of one lookup
// and how many failed.
func lookups(name string, n int) {
	r := &net.Resolver{PreferGo: true}
	fails := 0
	start := time.Now()
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := r.LookupHost(ctx, name); err != nil {
			fails++
		}
		cancel()
	}
	d := time.Since(start)
	fmt.Printf("%.3f ms/lookup fails=%d\n", float64(d.Microseconds())/1000/float64(n), fails)
}
