package email

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
)

// Once the server has answered 250 to the message's final dot, the page is
// delivered: a connection that drops before QUIT must not make Send fail,
// or the engine would retry and page the person a second time for the
// step. A scripted server (go-smtp always answers QUIT) drops it.
func TestEmailAcceptedThenDroppedIsSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan bool, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		fmt.Fprint(c, "220 localhost ESMTP\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
			case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
				fmt.Fprint(c, "250 localhost\r\n")
			case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"):
				fmt.Fprint(c, "250 ok\r\n")
			case cmd == "DATA":
				fmt.Fprint(c, "354 go ahead\r\n")
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if l == ".\r\n" {
						break
					}
				}
				fmt.Fprint(c, "250 2.0.0 queued\r\n")
				accepted <- true
				return // gone before QUIT
			default:
				fmt.Fprint(c, "502 no\r\n")
			}
		}
	}()
	p, err := New(Options{URL: "smtp://" + ln.Addr().String(), From: "incidentbot@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Send(context.Background(), page("alice@example.com"))
	if len(accepted) != 1 {
		t.Fatalf("the server never accepted the message: %v", err)
	}
	if err != nil {
		t.Errorf("Send = %v after the server accepted the message; an error makes the engine page again", err)
	}
}
