package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/heapprofile"
)

// parseRetention reads INCIDENTBOT_RETENTION: empty or 0 keeps everything;
// "400d" is 400 days; any Go duration ("9600h") works too.
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := errors.New("retention: want a number of days like 400d (or a duration like 9600h; empty or 0 keeps everything)")
	switch {
	case s == "" || s == "0":
		return 0, nil
	case strings.HasSuffix(s, "d"):
		days, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || days < 1 || days > 100*365 {
			return 0, bad
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Hour {
		return 0, bad
	}
	return d, nil
}

// startRetention runs the retention sweeps until ctx ends, when keep is
// set, and returns a channel closed once they have stopped.
func startRetention(ctx context.Context, keep time.Duration, store bot.Store, blobs bot.ProfileBlobs, log *slog.Logger, m *metrics) <-chan struct{} {
	done := make(chan struct{})
	if keep <= 0 {
		close(done)
		return done
	}
	deleted := prometheus.NewCounter(prometheus.CounterOpts{Name: "incidentbot_retention_deleted_incidents_total",
		Help: "Resolved incidents deleted, with their alerts and timelines, because INCIDENTBOT_RETENTION passed."})
	m.reg.MustRegister(deleted)
	r := &bot.Retention{Store: store, Blobs: blobs, Keep: keep, Log: log, OnDeleted: func(int64, int) { deleted.Inc() }}
	log.Info("retention on: resolved incidents are deleted once resolved this long ago", "keep", keep.String())
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	return done
}

// retentionBlobs is where retention deletes incidents' profile files: the
// profiler's directory, or, with profiling off now, the directory an
// earlier configuration left behind (nil when there is none).
func retentionBlobs(blobs bot.ProfileBlobs, st *settings) bot.ProfileBlobs {
	if blobs != nil {
		return blobs
	}
	if fi, err := os.Stat(profileDir(st.DB)); err != nil || !fi.IsDir() {
		return nil
	}
	dir, err := heapprofile.NewDir(profileDir(st.DB))
	if err != nil {
		return nil
	}
	return dir
}
