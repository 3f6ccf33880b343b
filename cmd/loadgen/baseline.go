package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/webhooks"
)

// noStore keeps nothing: Update and View succeed at once without running
// their function, so a notification goes through everything the service
// does (router, request log, token, body limit, decoding, validation,
// digesting its alerts, the JSON answer) except reading and storing.
type noStore struct{}

var _ bot.Store = noStore{}

func (noStore) Update(context.Context, func(bot.Tx) error) error { return nil }

func (noStore) View(context.Context, func(bot.Tx) error) error { return nil }

// serveBaseline runs the baseline server until ctx is done. It logs as
// the service does (JSON to stderr) and says where it listens on stdout.
func serveBaseline(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(o.logLevel))); err != nil {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	svc := bot.NewService(noStore{}, bot.Options{Log: log})
	srv := webhooks.New(webhooks.Config{Service: svc, WebhookToken: o.token, Log: log})
	defer srv.Close()
	ln, err := net.Listen("tcp", o.serveBaseline)
	if err != nil {
		return err
	}
	// The same server settings as the service's.
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	fmt.Fprintf(stdout, "baseline listening on %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
