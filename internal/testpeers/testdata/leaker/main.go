// Command leaker is a service with a memory leak, for heapprofile's
// tests: it serves net/http/pprof on a loopback port (printed on its
// first line) and keeps every buffer leakyCache allocates, while
// churn allocates as much and lets it go.
package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"
)

var cache [][]byte

// leakyCache remembers a 256 KiB buffer every 20 ms and never forgets.
func leakyCache() {
	for range time.Tick(20 * time.Millisecond) {
		b := make([]byte, 256<<10)
		b[0] = 1
		cache = append(cache, b)
	}
}

var sink []byte

// churn allocates as much and keeps only the latest buffer.
func churn() {
	for range time.Tick(20 * time.Millisecond) {
		sink = make([]byte, 256<<10)
	}
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	go leakyCache()
	go churn()
	_ = http.Serve(ln, nil)
}
