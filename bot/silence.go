package bot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Silencer creates and expires silences in Alertmanager (API v2). Its
// adapter lives in bot/alertmanager.
type Silencer interface {
	// Silence creates s (its ID empty, or the ID of a silence it
	// replaces) in the first Alertmanager that answers and returns the
	// new silence's ID and the base URL of the peer that took it.
	// fallback is the incident's externalURL, used when no Alertmanager is
	// configured. Errors wrap ErrInvalid when Alertmanager refused the
	// silence; any other error means no peer could be reached and nothing
	// was created. Not idempotent: a retry after a lost answer may create
	// a second silence.
	Silence(ctx context.Context, fallback string, s Silence) (id, peer string, err error)
	// Expire ends silence id now, asking peer first (the one that took
	// it) and then the configured peers. It is idempotent: a silence that
	// already expired or that Alertmanager forgot is no error.
	Expire(ctx context.Context, peer, id string) error
	// Firing lists the fingerprints of the alerts Alertmanager still holds
	// as firing (active, silenced or inhibited) that match ms and route to
	// receiver, asking peer first, then the configured peers, else
	// fallback (the incident's externalURL). An empty list means the group
	// is quiet. Errors mean no peer answered. It only reads.
	Firing(ctx context.Context, peer, fallback string, ms []Matcher, receiver string) ([]string, error)
}

// Silence is an Alertmanager silence the bot created for an incident.
type Silence struct {
	ID       string    `json:"id"`
	Matchers []Matcher `json:"matchers"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	// CreatedBy is the name Alertmanager shows; Actor is who asked.
	CreatedBy string `json:"created_by"`
	Actor     string `json:"actor"`
	Comment   string `json:"comment"`
	// Alertmanager is the base URL of the peer that took it.
	Alertmanager string `json:"alertmanager"`
	// ExpiredAt is when the bot expired it; nil while it runs its course.
	ExpiredAt *time.Time `json:"expired_at,omitempty"`
}

// Active reports whether the silence still mutes alerts at now.
func (s Silence) Active(now time.Time) bool { return s.ExpiredAt == nil && s.EndsAt.After(now) }

// Matcher is one Alertmanager label matcher.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"is_regex"`
	IsEqual bool   `json:"is_equal"`
}

// String writes the matcher in Alertmanager's syntax, name="value".
func (m Matcher) String() string {
	op := map[[2]bool]string{{false, true}: "=", {false, false}: "!=", {true, true}: "=~", {true, false}: "!~"}[[2]bool{m.IsRegex, m.IsEqual}]
	return m.Name + op + strconv.Quote(m.Value)
}

// Silences bounds: the default when none is given and the longest a
// command may ask for. A longer silence is a decision for Alertmanager's
// own UI, not a side effect of an incident.
const (
	DefaultSilence = 2 * time.Hour
	MaxSilence     = 7 * 24 * time.Hour
	minSilence     = time.Minute
	maxSilenceText = 500
)

// SilenceOrder is someone's request to silence an incident's alert group.
type SilenceOrder struct {
	// Actor is who asked (a Slack mention); By is the name Alertmanager
	// shows as createdBy (their Slack name).
	Actor, By string
	// For is how long; zero means DefaultSilence.
	For     time.Duration
	Comment string
	// Link points people reading the silence in Alertmanager back to the
	// incident (its channel or API URL); may be empty.
	Link string
}

// SilenceMatchers are the equality matchers of the incident's group
// labels, sorted by name: exactly the alerts of its Alertmanager group.
// An incident declared by hand, or a group without labels, has none and
// cannot be silenced from here (errors wrap ErrConflict).
func SilenceMatchers(inc *Incident) ([]Matcher, error) {
	if inc.GroupKey == "" {
		return nil, fmt.Errorf("%w: %s was declared by hand and has no Alertmanager alert group to silence", ErrConflict, inc.Key())
	}
	if len(inc.GroupLabels) == 0 {
		return nil, fmt.Errorf("%w: the alert group of %s has no group labels (group_by), so a silence would mute every alert; silence it in Alertmanager's UI", ErrConflict, inc.Key())
	}
	if inc.GroupLabelsCleaned {
		return nil, fmt.Errorf("%w: the group labels of %s arrived with control characters, removed here, so a silence made from them would match nothing; silence it in Alertmanager's UI", ErrConflict, inc.Key())
	}
	out := make([]Matcher, 0, len(inc.GroupLabels))
	for k, v := range inc.GroupLabels {
		out = append(out, Matcher{Name: k, Value: v, IsEqual: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CanSilence reports, without calling Alertmanager, why incident id cannot
// be silenced: it does not exist (ErrNotFound), it is resolved, declared
// by hand or has no group labels (ErrConflict), or no Alertmanager is
// known (ErrConflict).
func (s *Service) CanSilence(ctx context.Context, id int64) error {
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return err
	}
	return s.canSilence(inc)
}

func (s *Service) canSilence(inc *Incident) error {
	if s.silencer == nil {
		return fmt.Errorf("%w: silences are not set up (no Alertmanager URL)", ErrConflict)
	}
	if !inc.Open() {
		return fmt.Errorf("%w: %s is resolved; its silences were ended or run their course", ErrConflict, inc.Key())
	}
	_, err := SilenceMatchers(inc)
	return err
}

// Silence silences incident id's alert group in Alertmanager for o.For
// (DefaultSilence when zero; at most MaxSilence) and records it on the
// incident and its timeline. An active silence of the incident is
// replaced (Alertmanager extends or re-creates it). When Alertmanager
// cannot be reached, nothing is recorded and the error says so; when the
// store fails after Alertmanager took the silence, the silence is expired
// again so that nothing mutes alerts without the incident saying so.
func (s *Service) Silence(ctx context.Context, id int64, o SilenceOrder) (*Incident, Silence, error) {
	if o.For == 0 {
		o.For = DefaultSilence
	}
	if o.For < minSilence || o.For > MaxSilence {
		return nil, Silence{}, fmt.Errorf("%w: a silence lasts from 1m to 7d; %s is out of range", ErrInvalid, FormatSpan(o.For))
	}
	if strings.TrimSpace(o.Actor) == "" {
		return nil, Silence{}, fmt.Errorf("%w: actor is empty", ErrInvalid)
	}
	o.Comment = clip(strings.TrimSpace(o.Comment), maxSilenceText)
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return nil, Silence{}, err
	}
	if err := s.canSilence(inc); err != nil {
		return nil, Silence{}, err
	}
	ms, _ := SilenceMatchers(inc)
	now := s.Now()
	sil := Silence{Matchers: ms, StartsAt: now, EndsAt: now.Add(o.For), CreatedBy: orElse(o.By, o.Actor), Actor: o.Actor,
		Comment: silenceComment(inc, o)}
	replaced := ""
	for _, old := range inc.Silences {
		if old.Active(now) {
			replaced, sil.ID = old.ID, old.ID
		}
	}
	sil.ID, sil.Alertmanager, err = s.silencer.Silence(ctx, inc.ExternalURL, sil)
	if err != nil {
		return nil, Silence{}, err
	}
	out, err := s.updateTx(ctx, id, func(tx Tx, inc *Incident) ([]*TimelineEntry, error) {
		if sil.ID != replaced {
			// A new silence: watch whether its group still fires.
			if err := tx.AddTimer(&Timer{Due: nextSilenceCheck(sil, now), Kind: TimerSilenceCheck, IncidentID: id, Ref: sil.ID, CreatedAt: now}); err != nil {
				return nil, err
			}
		}
		kept := false
		for i := range inc.Silences {
			old := &inc.Silences[i]
			switch {
			case replaced == "" || old.ID != replaced || old.ExpiredAt != nil:
			case sil.ID == replaced: // extended in place
				*old, kept = sil, true
			default: // Alertmanager expired it and made a new one
				old.ExpiredAt = &now
			}
		}
		if !kept {
			inc.Silences = append(inc.Silences, sil)
		}
		text := fmt.Sprintf("alert group silenced in Alertmanager until %s by %s (silence %s at %s)", stamp(sil.EndsAt), o.Actor, sil.ID, sil.Alertmanager)
		if replaced != "" && replaced != sil.ID {
			text += "; it replaces silence " + replaced
		} else if replaced != "" {
			text = fmt.Sprintf("Alertmanager silence %s extended until %s by %s (at %s)", sil.ID, stamp(sil.EndsAt), o.Actor, sil.Alertmanager)
		}
		if o.Comment != "" {
			text += ": " + o.Comment
		}
		return []*TimelineEntry{entry(KindSilenced, now, o.Actor, "%s", text)}, nil
	})
	if err != nil {
		if replaced != sil.ID {
			if xerr := s.silencer.Expire(context.WithoutCancel(ctx), sil.Alertmanager, sil.ID); xerr != nil {
				s.logFor(ctx, id).Error("a silence was created but not recorded, and expiring it failed", "silence", sil.ID, "err", xerr)
			}
		}
		return nil, Silence{}, err
	}
	s.logFor(ctx, id).Info("incident silenced", "silence", sil.ID, "alertmanager", sil.Alertmanager, "until", sil.EndsAt)
	return out, sil, nil
}

// silenceComment names the incident, its link and who asked, then the
// person's own words, so that whoever finds the silence in Alertmanager
// knows where it came from.
func silenceComment(inc *Incident, o SilenceOrder) string {
	c := inc.Key() + " " + inc.Title
	if o.Link != "" {
		c += " (" + o.Link + ")"
	}
	c += ", silenced by incidentbot for " + orElse(o.By, o.Actor)
	if o.Comment != "" {
		c += ": " + o.Comment
	}
	return c
}

// Unsilence expires every active silence of incident id in Alertmanager
// and records it. It fails with ErrConflict when none is active; when
// Alertmanager cannot be reached, the silences it could not expire stay
// recorded as active and the error says so.
func (s *Service) Unsilence(ctx context.Context, id int64, actor string) (*Incident, []Silence, error) {
	if s.silencer == nil {
		return nil, nil, fmt.Errorf("%w: silences are not set up (no Alertmanager URL)", ErrConflict)
	}
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return s.expireSilences(ctx, inc, actor, "ended by "+actor)
}

// expireSilences expires inc's active silences, records those that
// Alertmanager ended, and returns them with the first failure.
func (s *Service) expireSilences(ctx context.Context, inc *Incident, actor, why string) (*Incident, []Silence, error) {
	now := s.Now()
	var ended []Silence
	var failed error
	for _, sil := range inc.Silences {
		if !sil.Active(now) {
			continue
		}
		if err := s.silencer.Expire(ctx, sil.Alertmanager, sil.ID); err != nil {
			failed = errors.Join(failed, err)
			continue
		}
		ended = append(ended, sil)
	}
	if len(ended) == 0 {
		if failed != nil {
			return nil, nil, failed
		}
		return nil, nil, fmt.Errorf("%w: %s has no active silence", ErrConflict, inc.Key())
	}
	out, err := s.updateTx(ctx, inc.ID, func(tx Tx, inc *Incident) ([]*TimelineEntry, error) {
		var ids []string
		for i := range inc.Silences {
			for _, e := range ended {
				if sil := &inc.Silences[i]; sil.ID == e.ID && sil.ExpiredAt == nil {
					sil.ExpiredAt = &now
					ids = append(ids, sil.ID)
				}
			}
		}
		if len(ids) == 0 {
			return nil, nil
		}
		if inc.Open() {
			// Alertmanager will not tell what resolved while silenced: ask.
			if err := tx.AddTimer(&Timer{Due: now, Kind: TimerSilenceCheck, IncidentID: inc.ID, CreatedAt: now}); err != nil {
				return nil, err
			}
		}
		return []*TimelineEntry{entry(KindUnsilenced, now, actor, "Alertmanager silence %s expired: %s", strings.Join(ids, ", "), why)}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, ended, failed
}

// ParseSpan reads a duration as people write it for silences: Go's units
// (90m, 1h30m) plus d for days and w for weeks (2d, 1w). Errors wrap
// ErrInvalid.
func ParseSpan(s string) (time.Duration, error) {
	rest := strings.ToLower(strings.TrimSpace(s))
	if rest == "" {
		return 0, fmt.Errorf("%w: empty duration", ErrInvalid)
	}
	var total time.Duration
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		if i == 0 || i > 6 || j == i {
			return 0, fmt.Errorf("%w: duration %q: write it like 30m, 2h, 1d or 1w", ErrInvalid, s)
		}
		n, _ := strconv.Atoi(rest[:i])
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[rest[i:j]]
		if unit == 0 {
			return 0, fmt.Errorf("%w: duration %q: unit %q is not one of s, m, h, d, w", ErrInvalid, s, rest[i:j])
		}
		if time.Duration(n) > 100*MaxSilence/unit {
			return 0, fmt.Errorf("%w: duration %q is too long", ErrInvalid, s)
		}
		total += time.Duration(n) * unit
		if total > 100*MaxSilence {
			return 0, fmt.Errorf("%w: duration %q is too long", ErrInvalid, s)
		}
		rest = rest[j:]
	}
	return total, nil
}

// FormatSpan writes a duration the way ParseSpan reads it: 2h, 1d12h, 45m.
func FormatSpan(d time.Duration) string {
	if d <= 0 {
		return "0m"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.unit)
			d -= n * u.d
		}
	}
	return b.String()
}

func orElse(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
