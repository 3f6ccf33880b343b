package main

import (
	"log/slog"
	"net"
)

// warnExposed logs at start-up each route that answers anyone who can
// reach addr because its token is not set, and how far addr reaches. The
// defaults keep `go run ./cmd/incidentbot` working on a laptop, so the
// service says out loud what that leaves open.
func warnExposed(log *slog.Logger, addr net.Addr, st settings) {
	reach := "every interface"
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		reach = "this machine only (loopback)"
	}
	if st.WebhookToken == "" {
		log.Warn("INCIDENTBOT_WEBHOOK_TOKEN is not set: anyone who can reach the listener may open and change incidents "+
			"through /webhooks/alertmanager; set it, and the same token in Alertmanager's receiver",
			"addr", addr.String(), "reachable_from", reach)
	}
	if st.APIToken == "" {
		log.Warn("INCIDENTBOT_API_TOKEN is not set: anyone who can reach the listener may read every incident, timeline "+
			"and postmortem through /api/v1",
			"addr", addr.String(), "reachable_from", reach)
	}
}
