package bot

import (
	"context"
	"log/slog"
)

type loggerKey struct{}

// WithLogger returns a copy of ctx that carries log. The Service logs
// what it does for that ctx through it, so that a line about an incident
// changed by a request also carries the request's attributes (its request
// ID); the inbound adapters put their request logger there.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// Logger returns the logger ctx carries, or fallback when it has none.
func Logger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return fallback
}

// logFor is the logger for work on incident id done for ctx.
func (s *Service) logFor(ctx context.Context, id int64) *slog.Logger {
	return Logger(ctx, s.log).With("incident", id)
}

// entryKinds lists the kinds of entries, for a log line that says what changed.
func entryKinds(entries []*TimelineEntry) []Kind {
	out := make([]Kind, len(entries))
	for i, e := range entries {
		out[i] = e.Kind
	}
	return out
}
