package bot

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"time"
)

// Service applies the lifecycle rules to incidents kept in a Store. It is
// safe for concurrent use: every change happens inside one store transaction.
type Service struct {
	// seed makes this run's notification digests its own (see
	// notificationDigest).
	seed  [16]byte
	store Store
	// peeker is store when it is a GroupPeeker (before the wrappers
	// below, which only watch Updates).
	peeker GroupPeeker
	// ingestStore is store without hidingStore: ingest alone sees the
	// incidents still filling (fill.go).
	ingestStore Store
	policy      Policy
	now         func() time.Time
	log         *slog.Logger
	// chat is true when a chat adapter delivers the outbox; without one,
	// nothing is enqueued (an outbox nobody drains would only grow).
	chat      bool
	zone      *time.Location
	directory Directory
	onIngest  func(n *Notification, res IngestResult, err error)
	oncall    *OnCall
	silencer  Silencer
	// onTimers is called after a committed change that added a timer.
	onTimers func()
	// keepSilences leaves silences running when their incident resolves.
	keepSilences bool
	grapher      Grapher
	profiler     Profiler
	blobs        ProfileBlobs
	targetsFor   func(Alert) []ProfileTarget
	publicURL    string
	runbooks     Runbooks
}

// Options configures a Service. Zero values are usable defaults.
type Options struct {
	Policy Policy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives the service's lines about incidents, each with the
	// incident's ID; a call whose context carries a logger (WithLogger)
	// logs there instead, with the caller's attributes. nil discards.
	Log *slog.Logger
	// Zone is the time zone people type and read times in (the config's
	// timezone): "HH:MM" in a command is a wall-clock time there. nil means UTC.
	Zone *time.Location
	// Directory names people in the postmortem draft; nil leaves them as
	// user IDs.
	Directory Directory
	// Chat enables the outbox: each change also enqueues the chat
	// deliveries that announce it.
	Chat bool
	// Wake, when set, is called after every committed change, so that the
	// delivery worker (Worker.Wake) sends it without waiting for its poll.
	Wake func()
	// OnIngest, when set, is told the outcome of every notification (for
	// metrics). It runs on the caller's goroutine and must be quick.
	OnIngest func(n *Notification, res IngestResult, err error)
	// OnCall is the teams and people; nil means nobody is paged.
	OnCall *OnCall
	// Silencer creates and expires Alertmanager silences; nil means
	// /incident silence is off.
	Silencer Silencer
	// OnTimers, when set, is called after a committed change that added
	// a durable timer (an escalation started), so that the timer engine
	// (Engine.Wake) fires it without waiting for its poll.
	OnTimers func()
	// KeepSilences leaves an incident's silences running when it
	// resolves; by default the engine expires them.
	KeepSilences bool
	// Grapher draws the metric graphs of incidents; nil means none.
	Grapher Grapher
	// PublicURL is the base of links the service writes (the draft's graph).
	PublicURL string
	// Profiler, ProfileBlobs and ProfileTargets capture heap profiles of
	// the alerts' services (the `profiles` config, pprof_url annotations);
	// any of them nil means no profiling.
	Profiler       Profiler
	ProfileBlobs   ProfileBlobs
	ProfileTargets func(Alert) []ProfileTarget
	// Runbooks, when set, lets the bot tick the profiling steps of posted
	// checklists once it has diffed two heap profiles.
	Runbooks Runbooks
}

// NewService returns a Service over store.
func NewService(store Store, o Options) *Service {
	s := &Service{store: store, policy: o.Policy.withDefaults(), now: o.Now, log: o.Log, chat: o.Chat, zone: o.Zone,
		directory: o.Directory, onIngest: o.OnIngest, oncall: o.OnCall, silencer: o.Silencer, keepSilences: o.KeepSilences,
		grapher: o.Grapher, publicURL: o.PublicURL, profiler: o.Profiler, blobs: o.ProfileBlobs, targetsFor: o.ProfileTargets,
		runbooks: o.Runbooks}
	if s.zone == nil {
		s.zone = time.UTC
	}
	if s.now == nil {
		s.now = time.Now
	}
	_, _ = rand.Read(s.seed[:])
	s.peeker, _ = store.(GroupPeeker)
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Wake != nil {
		s.store = wakingStore{Store: store, wake: o.Wake}
	}
	if o.OnTimers != nil {
		s.onTimers = o.OnTimers
		s.store = timerWakingStore{Store: s.store, s: s} // escalate.go
	}
	s.ingestStore, s.store = s.store, hidingStore{s.store} // fill.go
	return s
}

// ChatEnabled reports whether changes are announced in the chat (the
// outbox is on).
func (s *Service) ChatEnabled() bool { return s.chat }

// Zone returns the time zone people type and read times in.
func (s *Service) Zone() *time.Location { return s.zone }

// Now returns the service clock's current time in UTC.
func (s *Service) Now() time.Time { return s.now().UTC() }

// Incident returns one incident, or an error wrapping ErrNotFound.
func (s *Service) Incident(ctx context.Context, id int64) (*Incident, error) {
	var inc *Incident
	err := s.store.View(ctx, func(tx Tx) (err error) {
		inc, err = tx.Incident(id)
		return err
	})
	return inc, err
}

// IncidentByRoom returns the incident whose room in chat adapter is room,
// and the adapter's record of it.
func (s *Service) IncidentByRoom(ctx context.Context, adapter, room string) (*Incident, ChatRecord, error) {
	var inc *Incident
	var rec ChatRecord
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if inc, err = tx.IncidentByRoom(adapter, room); err != nil {
			return err
		}
		rec, err = tx.ChatRecord(inc.ID, adapter)
		return err
	})
	return inc, rec, err
}

// ChatRecords returns chat adapter's records of the incidents, by ID;
// an incident it keeps nothing for has none.
func (s *Service) ChatRecords(ctx context.Context, adapter string, ids ...int64) (map[int64]ChatRecord, error) {
	out := make(map[int64]ChatRecord, len(ids))
	err := s.store.View(ctx, func(tx Tx) error {
		for _, id := range ids {
			rec, err := tx.ChatRecord(id, adapter)
			if err != nil {
				return err
			}
			if !rec.IsZero() {
				out[id] = rec
			}
		}
		return nil
	})
	return out, err
}

// ChatRecord returns chat adapter's record of one incident (the zero
// record when none).
func (s *Service) ChatRecord(ctx context.Context, id int64, adapter string) (ChatRecord, error) {
	m, err := s.ChatRecords(ctx, adapter, id)
	return m[id], err
}

// Incidents lists incidents, newest first.
func (s *Service) Incidents(ctx context.Context, f IncidentFilter) ([]*Incident, error) {
	var list []*Incident
	err := s.store.View(ctx, func(tx Tx) (err error) {
		list, err = tx.Incidents(f)
		return err
	})
	return list, err
}

// Timeline returns the incident's entries oldest first: by time, and in the
// order they were recorded for equal times. A moment typed in later with a
// leading time takes its place in the story.
func (s *Service) Timeline(ctx context.Context, id int64) ([]TimelineEntry, error) {
	var entries []TimelineEntry
	err := s.store.View(ctx, func(tx Tx) error {
		inc, err := tx.IncidentHeader(id)
		if err != nil {
			return err
		}
		entries, err = tx.Timeline(id)
		for i := range entries {
			if entries[i].BeforeDetection == nil { // recorded before the mark was stored
				entries[i].markDetection(inc)
			}
		}
		return err
	})
	SortTimeline(entries)
	return entries, err
}

// SortTimeline orders entries by time, then by ID.
func SortTimeline(entries []TimelineEntry) {
	sort.SliceStable(entries, func(i, j int) bool {
		if !entries[i].At.Equal(entries[j].At) {
			return entries[i].At.Before(entries[j].At)
		}
		return entries[i].ID < entries[j].ID
	})
}

// record appends entries for inc and, when a chat is attached, enqueues the
// deliveries that announce them, all inside tx.
func (s *Service) record(tx Tx, inc *Incident, opened bool, entries []*TimelineEntry) error {
	now := s.Now()
	more, err := s.escalate(tx, inc, opened, now) // on-call: escalate.go
	if err != nil {
		return err
	}
	entries = append(entries, more...)
	if len(entries) == 0 && !opened { // a fill opens with its entries written already (fill.go)
		return nil
	}
	for _, e := range entries {
		e.IncidentID = inc.ID
		e.RecordedAt = now
		e.At = e.At.UTC()
		e.markDetection(inc)
	}
	if err := tx.Append(entries...); err != nil {
		return err
	}
	if err := s.scheduleDraftRefresh(tx, inc, changesDraft(entries), now); err != nil {
		return err
	}
	if s.chat {
		for _, d := range announce(inc, opened, entries, now, s.zone) {
			if err := tx.Enqueue(d); err != nil {
				return err
			}
		}
	}
	return s.loop(tx, inc, opened, entries, now) // silences, graphs, profiles: loop.go
}

// update runs fn on incident id inside one transaction and stores the
// result. fn returns the timeline entries of the change; none means nothing
// changed and nothing is written. fn gets the incident's header (no
// Alerts), so that a change costs the same whatever the roster, and
// update returns it.
func (s *Service) update(ctx context.Context, id int64, fn func(inc *Incident) ([]*TimelineEntry, error)) (*Incident, error) {
	return s.updateTx(ctx, id, func(_ Tx, inc *Incident) ([]*TimelineEntry, error) { return fn(inc) })
}

// updateTx is update for changes that need the transaction too (runs,
// pages).
func (s *Service) updateTx(ctx context.Context, id int64, fn func(tx Tx, inc *Incident) ([]*TimelineEntry, error)) (*Incident, error) {
	var out *Incident
	var changes []Kind
	err := s.store.Update(ctx, func(tx Tx) error {
		changes = nil
		inc, err := tx.IncidentHeader(id)
		if err != nil {
			return err
		}
		entries, err := fn(tx, inc)
		if err != nil {
			return err
		}
		out = inc
		if len(entries) == 0 {
			return nil
		}
		if err := tx.UpdateIncident(inc); err != nil {
			return err
		}
		changes = entryKinds(entries)
		return s.record(tx, inc, false, entries)
	})
	if err != nil {
		return nil, err
	}
	if len(changes) > 0 {
		s.logFor(ctx, id).Info("incident changed", "changes", changes)
	}
	return out, nil
}

func entry(kind Kind, at time.Time, actor, format string, args ...any) *TimelineEntry {
	return &TimelineEntry{Kind: kind, At: at.UTC(), Actor: actor, Text: fmt.Sprintf(format, args...)}
}
