package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// slowBodies measures what senders that announce a large body and send
// one byte cost the real service: its resident memory before, while n of
// them hold their connections open, and after they are gone.
func slowBodies(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	srv, err := start(ctx, o, "real")
	if err != nil {
		return err
	}
	defer srv.stop(stderr)
	u, err := url.Parse(srv.url)
	if err != nil {
		return err
	}
	pid := srv.cmd.Process.Pid
	time.Sleep(time.Second) // let start-up settle
	before := rss(pid)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	head := fmt.Sprintf("POST /webhooks/alertmanager HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n{", u.Host, o.token, o.slowAnnounce)
	for range o.slowBodies {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, head); err != nil {
			return err
		}
	}
	time.Sleep(3 * time.Second)
	during := rss(pid)
	for _, c := range conns {
		_ = c.Close()
	}
	conns = nil
	time.Sleep(time.Second)
	after := rss(pid)
	fmt.Fprintf(stdout, "slow bodies: %d connections announcing %d bytes, sending 1: resident memory %s before, %s while they wait (%+.1f MB), %s after they leave\n",
		o.slowBodies, o.slowAnnounce, mb(before), mb(during), float64(during-before)/(1<<20), mb(after))
	return nil
}

// rss is the resident memory of process pid, from /proc (Linux; 0
// elsewhere).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }
