package main

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
)

func TestWarnExposed(t *testing.T) {
	all := &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	tests := []struct {
		name  string
		addr  net.Addr
		st    settings
		want  []string
		never []string
	}{
		{"nothing set, all interfaces", all, settings{}, []string{"INCIDENTBOT_WEBHOOK_TOKEN is not set", "INCIDENTBOT_API_TOKEN is not set", "every interface"}, nil},
		{"nothing set, loopback", local, settings{}, []string{"WEBHOOK_TOKEN", "loopback"}, []string{"every interface"}},
		{"webhook token only", all, settings{WebhookToken: "s3cret"}, []string{"INCIDENTBOT_API_TOKEN is not set"}, []string{"WEBHOOK_TOKEN", "s3cret"}},
		{"both set", all, settings{WebhookToken: "a", APIToken: "b"}, nil, []string{"not set"}},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		warnExposed(slog.New(slog.NewTextHandler(&buf, nil)), tt.addr, tt.st)
		for _, w := range tt.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("%s: log lacks %q:\n%s", tt.name, w, buf.String())
			}
		}
		for _, n := range tt.never {
			if strings.Contains(buf.String(), n) {
				t.Errorf("%s: log has %q:\n%s", tt.name, n, buf.String())
			}
		}
	}
}
