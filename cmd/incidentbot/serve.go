package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/runbooks"
	"github.com/incidentbot/incidentbot/webhooks"
)

// serve runs the service until ctx is done, then shuts down in order: stop
// accepting HTTP, finish deliveries in flight, close the store. Everything
// acknowledged with a 200 is already committed by then.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	st, err := parseSettings("incidentbot serve", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(st, stderr)
	cfg, err := loadConfig(st.Config)
	if err != nil {
		return err
	}
	books, err := loadRunbooks(ctx, st.Runbooks)
	if err != nil {
		return err
	}
	m := newMetrics()
	store, err := openStore(ctx, st.DB, m)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer store.Close()

	chat, err := newChat(st, cfg, books, log, m)
	if err != nil {
		return err
	}
	silencer, err := newSilencer(st, log)
	if err != nil {
		return err
	}
	pagers, err := newPagers(st, cfg, chat)
	if err != nil {
		return err
	}
	grapher, err := newGrapher(st, log)
	if err != nil {
		return err
	}
	profiler, blobs, err := newProfiling(cfg, st)
	if err != nil {
		return err
	}
	if chat != nil {
		chat.grapher, chat.blobs = grapher, blobs
	}
	var oncall *oncallRuntime // built below; woken by the service's commits
	svc := bot.NewService(store, bot.Options{Policy: cfg.Policy, Zone: cfg.Zone, Directory: chat.directory(), Log: log, Chat: chat != nil, Wake: chat.wake, Silencer: silencer,
		OnCall: cfg.OnCall, OnTimers: func() { oncall.wake() }, KeepSilences: cfg.Loop.KeepSilences,
		Grapher: grapher, PublicURL: st.PublicURL, Profiler: profiler, ProfileBlobs: blobs, ProfileTargets: cfg.Loop.ProfileTargets, Runbooks: books,
		OnIngest: func(n *bot.Notification, res bot.IngestResult, err error) { m.observeIngest(len(n.Alerts), res, err) }})
	oncall = newOnCall(svc, st, pagers, chat, log, m)
	if w, ok := store.(waker); ok {
		w.OnWake(func() { chat.wake(); oncall.wake() })
	}
	srv := webhooks.New(webhooks.Config{
		Service: svc, WebhookToken: st.WebhookToken, APIToken: st.APIToken, SigningSecret: st.SlackSigningSecret,
		MaxWebhookBody: st.MaxWebhookBody, Ready: store.Ping, Metrics: m.handler(), Runbooks: books, Views: chat.views(), Access: cfg.Access, Members: chat.members(),
		HeadlineChannel: st.SlackChannel, Log: log,
		PublicURL: st.PublicURL, Zone: cfg.Zone, OnWebhook: m.observeWebhook, AuthProxyHeader: st.AuthProxy,
	})

	ln, err := net.Listen("tcp", st.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", st.Addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stdout, "incidentbot %s listening on %s (store %s, Slack %s)\n", version, ln.Addr(), storeName(st.DB), onOff(chat != nil))
	log.Info("started", "version", version, "addr", ln.Addr().String(), "db", storeName(st.DB), "slack", onOff(chat != nil), "runbooks", len(books.All()))
	if st.APIToken == "" && st.AuthProxy == "" {
		log.Warn("the web view (/incidents) is open to anyone who can reach this address: set INCIDENTBOT_API_TOKEN or INCIDENTBOT_AUTH_PROXY_HEADER")
	}
	warnExposed(log, ln.Addr(), *st)
	if chat == nil {
		log.Info("slack is off: set SLACK_BOT_TOKEN to open channels; webhooks, timeline and API work without it")
	}

	errc := make(chan error, 4)
	go func() { errc <- serveHTTP(hs, ln) }()
	stopAdmin := startAdmin(st.AdminAddr, log, errc)
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	workDone, timersDone := lead(workCtx, store, m, log, func(ctx context.Context) (<-chan struct{}, <-chan struct{}) {
		return chat.start(ctx, store, srv, errc), oncall.start(ctx, errc)
	})
	retentionDone := startRetention(workCtx, st.Retention, store, retentionBlobs(blobs, st), log, m)

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errc:
		log.Error("stopping after a failure", "err", err)
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), st.ShutdownGrace)
	defer cancel()
	if serr := hs.Shutdown(shutCtx); serr != nil {
		log.Warn("http shutdown", "err", serr)
	}
	stopAdmin(shutCtx)
	stopWork()
	waitOrTimeout(shutCtx, workDone, log)
	waitOrTimeout(shutCtx, timersDone, log)
	waitOrTimeout(shutCtx, retentionDone, log) // a sweep stops between two small transactions
	srv.Shutdown(shutCtx)                      // replies to Slack still queued go out, within the grace, before the store closes
	if cerr := store.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close store: %w", cerr)
	}
	log.Info("stopped")
	return err
}

func serveHTTP(hs *http.Server, ln net.Listener) error {
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startAdmin serves net/http/pprof on its own listener, off by default, so
// a leak in the bot is profiled the way the memory-leak runbook says.
func startAdmin(addr string, log *slog.Logger, errc chan<- error) func(context.Context) {
	if addr == "" {
		return func(context.Context) {}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	as := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		errc <- fmt.Errorf("admin listen %s: %w", addr, err)
		return func(context.Context) {}
	}
	log.Info("admin listener with pprof", "addr", ln.Addr().String())
	go func() { errc <- serveHTTP(as, ln) }()
	return func(ctx context.Context) { _ = as.Shutdown(ctx) }
}

func waitOrTimeout(ctx context.Context, done <-chan struct{}, log *slog.Logger) {
	select {
	case <-done:
	case <-ctx.Done():
		log.Warn("deliveries still in flight at the shutdown deadline; they stay in the outbox and resume at the next start")
	}
}

func loadRunbooks(ctx context.Context, dir string) (*runbooks.Set, error) {
	set := runbooks.Builtin()
	if dir == "" {
		return set, nil
	}
	extra, err := runbooks.LoadDir(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("runbooks %s: %w", dir, err)
	}
	return set.Merge(extra), nil
}

func newLogger(st *settings, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(st.LogLevel))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if st.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
