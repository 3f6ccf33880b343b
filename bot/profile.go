package bot

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Profiler fetches and compares heap profiles. Its adapter
// (bot/heapprofile) fetches only from allow-listed hosts and parses with
// github.com/google/pprof/profile.
type Profiler interface {
	// Fetch downloads the heap profile t.URL names. Errors wrap ErrInvalid
	// when t.Allow does not admit the host (nothing was contacted) or when
	// what came back does not parse as a profile: then the bytes are
	// returned too, to be kept as evidence. Any other error (unreachable,
	// time-out, too large, HTTP error) returns no bytes. It only reads.
	Fetch(ctx context.Context, t ProfileTarget) ([]byte, error)
	// Diff parses base and next and returns the n allocation sites whose
	// in-use bytes grew most from base to next. Errors wrap ErrInvalid
	// when either does not parse or they cannot be compared.
	Diff(base, next []byte, n int) (ProfileDiff, error)
}

// ProfileBlobs keeps the captured profiles themselves (the files people
// download and feed to `go tool pprof -base`), apart from the store.
type ProfileBlobs interface {
	// Put stores data under name, replacing nothing: names are unique.
	Put(name string, data []byte) error
	// Get returns what Put stored, or an error wrapping ErrNotFound.
	Get(name string) ([]byte, error)
	// DeleteIncident removes every profile stored for incident id (the
	// names Put got for it, inc-<id>/...). It is idempotent: an incident
	// without profiles is no error.
	DeleteIncident(id int64) error
}

// ProfileTarget is where an incident's heap profiles come from: a URL and
// the hosts it may be fetched from, from the `profiles` config or an
// alert's pprof_url annotation.
type ProfileTarget struct {
	URL string `json:"url"`
	// Allow lists the hosts and networks (CIDR) that may be contacted.
	Allow []string `json:"allow"`
	// After is when the second capture is taken; zero means no second.
	After time.Duration `json:"after"`
}

// ProfileCapture is one heap profile taken for an incident.
type ProfileCapture struct {
	N      int       `json:"n"`
	Target string    `json:"target"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Bytes  int       `json:"bytes"`
	// File names the stored profile (ProfileBlobs); empty when nothing
	// came back.
	File string `json:"file,omitempty"`
	// Error says why the capture failed or does not parse.
	Error string `json:"error,omitempty"`
}

// ProfileDiff is what grew between two captures of one target.
type ProfileDiff struct {
	Target string `json:"target"`
	Base   int    `json:"base"`
	Next   int    `json:"next"`
	// Since is when the base was captured; At when the next was.
	Since time.Time `json:"since"`
	At    time.Time `json:"at"`
	// Growth is the net change of in-use bytes over the whole profile.
	Growth int64        `json:"growth"`
	Sites  []GrowthSite `json:"sites"`
}

// GrowthSite is one allocation site (the first frame outside the
// runtime) and how much its in-use bytes grew.
type GrowthSite struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int64  `json:"line"`
	Growth   int64  `json:"growth"`
	// Share is Growth over the profile's net growth.
	Share float64 `json:"share"`
}

// Bounds of profiling: targets per incident, captures per incident, the
// sites reported.
const (
	maxProfileTargets  = 4
	maxProfileCaptures = 24
	profileSites       = 10
)

// TimerProfile captures a heap profile of the target Ref.
const TimerProfile TimerKind = "profile"

// DeliveryProfile uploads the stored profile Ref into the incident's
// channel, with Text as its comment.
const DeliveryProfile DeliveryKind = "profile"

// profileTargets lists the targets of inc's firing alerts (of all its
// alerts when all is true: a second capture goes ahead even if its alert
// resolved meanwhile), at most maxProfileTargets, without repeats.
func (s *Service) profileTargets(inc *Incident, all bool) []ProfileTarget {
	if s.profiler == nil || s.blobs == nil || s.targetsFor == nil {
		return nil
	}
	var out []ProfileTarget
	seen := map[string]bool{}
	for _, a := range inc.Alerts {
		if a.Status != AlertFiring && !all {
			continue
		}
		for _, t := range s.targetsFor(a) {
			if !seen[t.URL] && len(out) < maxProfileTargets {
				seen[t.URL] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// scheduleProfiles adds, in the transaction that opens inc, a timer for
// the first capture of each of its targets.
func (s *Service) scheduleProfiles(tx Tx, inc *Incident, now time.Time) error {
	for _, t := range s.profileTargets(inc, false) {
		if err := tx.AddTimer(&Timer{Due: now, Kind: TimerProfile, IncidentID: inc.ID, Ref: t.URL, CreatedAt: now}); err != nil {
			return err
		}
	}
	return nil
}

// captureTimer handles a TimerProfile: one capture of the target (and,
// after the first, the diff); the first capture schedules the second
// After later. A failed fetch is recorded, not retried: a profile is
// only worth its moment.
func (s *Service) captureTimer(ctx context.Context, t Timer, now time.Time) error {
	inc, err := s.Incident(ctx, t.IncidentID)
	if err == nil {
		var target *ProfileTarget
		for _, tg := range s.profileTargets(inc, true) {
			if tg.URL == t.Ref {
				target = &tg
			}
		}
		if target != nil {
			_, err = s.capture(ctx, inc.ID, *target, ActorBot, &t)
		}
	}
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		return err // the store failed: the timer stays and runs again
	}
	return s.store.Update(ctx, func(tx Tx) error { return tx.DeleteTimer(t.ID) })
}

// CaptureProfiles takes a heap profile of each of incident id's targets
// now and diffs it against the first good capture of the same target.
// It fails with ErrConflict when no `profiles` entry or pprof_url
// annotation applies to the incident's alerts.
func (s *Service) CaptureProfiles(ctx context.Context, id int64, actor string) ([]ProfileCapture, []ProfileDiff, error) {
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	targets := s.profileTargets(inc, true)
	if len(targets) == 0 {
		return nil, nil, fmt.Errorf("%w: no profiles entry of the config and no pprof_url annotation applies to the alerts of %s", ErrConflict, inc.Key())
	}
	var caps []ProfileCapture
	var diffs []ProfileDiff
	for _, t := range targets {
		res, err := s.capture(ctx, id, t, actor, nil)
		if err != nil {
			return caps, diffs, err
		}
		caps = append(caps, res.capture)
		if res.diff != nil {
			diffs = append(diffs, *res.diff)
		}
	}
	return caps, diffs, nil
}

type captured struct {
	capture ProfileCapture
	diff    *ProfileDiff
}

// capture fetches one profile of t, keeps it, diffs it against the
// target's first good capture, and records both; timer, when not nil, is
// the first automatic capture's, after which the second is scheduled.
func (s *Service) capture(ctx context.Context, id int64, t ProfileTarget, actor string, timer *Timer) (captured, error) {
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return captured{}, err
	}
	if len(inc.Profiles) >= maxProfileCaptures {
		return captured{}, fmt.Errorf("%w: %s already has %d heap profiles", ErrConflict, inc.Key(), maxProfileCaptures)
	}
	now := s.Now()
	c := ProfileCapture{N: len(inc.Profiles) + 1, Target: t.URL, At: now, By: actor}
	data, ferr := s.profiler.Fetch(ctx, t)
	c.Bytes = len(data)
	if len(data) > 0 {
		c.File = fmt.Sprintf("inc-%d/%s.%s.pb.gz", inc.ID, now.Format("20060102T150405.000000000"), rand.Text()[:8])
		if err := s.blobs.Put(c.File, data); err != nil {
			c.File, ferr = "", errors.Join(ferr, fmt.Errorf("keeping the profile: %w", err))
		}
	}
	if ferr != nil {
		c.Error = ferr.Error()
	}
	var diff *ProfileDiff
	if base := firstGood(inc, t.URL); base != nil && c.Error == "" {
		if bdata, err := s.blobs.Get(base.File); err == nil {
			d, err := s.profiler.Diff(bdata, data, profileSites)
			if err != nil {
				c.Error = "comparing with profile " + fmt.Sprint(base.N) + ": " + err.Error()
			} else {
				d.Target, d.Base, d.Next, d.Since, d.At = t.URL, base.N, c.N, base.At, now
				diff = &d
			}
		}
	}
	_, err = s.update(ctx, id, func(inc *Incident) ([]*TimelineEntry, error) {
		c.N = len(inc.Profiles) + 1
		inc.Profiles = append(inc.Profiles, c)
		entries := []*TimelineEntry{entry(KindProfile, now, actor, "%s", captureText(c))}
		if diff != nil {
			diff.Next = c.N
			inc.ProfileDiffs = append(inc.ProfileDiffs, *diff)
			entries = append(entries, entry(KindProfileDiff, now, ActorBot, "%s", DiffText(*diff)))
			entries = append(entries, s.tickProfileSteps(inc, *diff, now)...)
		}
		return entries, nil
	})
	if err != nil {
		return captured{}, err
	}
	if err := s.afterCapture(ctx, inc.ID, t, c, diff, timer, now); err != nil {
		return captured{}, err
	}
	s.logFor(ctx, id).Info("heap profile captured", "target", t.URL, "n", c.N, "bytes", c.Bytes, "error", c.Error)
	return captured{capture: c, diff: diff}, nil
}

// afterCapture schedules the second capture after the first automatic
// one, and hands the profiles of a diff to the chat.
func (s *Service) afterCapture(ctx context.Context, id int64, t ProfileTarget, c ProfileCapture, diff *ProfileDiff, timer *Timer, now time.Time) error {
	second := timer != nil && t.After > 0 && c.Error == "" && timer.N == 0
	if !second && (diff == nil || !s.chat) {
		return nil
	}
	return s.store.Update(ctx, func(tx Tx) error {
		if second {
			if err := tx.AddTimer(&Timer{Due: now.Add(t.After), Kind: TimerProfile, IncidentID: id, Ref: t.URL, N: 1, CreatedAt: now}); err != nil {
				return err
			}
		}
		if diff == nil || !s.chat {
			return nil
		}
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		base, next := inc.Profiles[diff.Base-1], inc.Profiles[diff.Next-1]
		for _, p := range []ProfileCapture{base, next} {
			text := fmt.Sprintf("Heap profile %d of %s, %s at %s", p.N, inc.Key(), p.Target, p.At.Format("15:04:05 UTC"))
			if p.N == next.N {
				text += fmt.Sprintf(". Compare: `go tool pprof -sample_index=inuse_space -base %s %s`", blobName(inc, base), blobName(inc, next))
			}
			if err := tx.Enqueue(&Delivery{IncidentID: id, Kind: DeliveryProfile, Ref: p.File, Text: text, CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
}

// blobName is the file name a profile gets in the chat.
func blobName(inc *Incident, p ProfileCapture) string {
	return fmt.Sprintf("%s-heap-%d.pb.gz", strings.ToLower(inc.Key()), p.N)
}

// firstGood is the target's first capture that was kept and parsed.
func firstGood(inc *Incident, target string) *ProfileCapture {
	for i := range inc.Profiles {
		if p := &inc.Profiles[i]; p.Target == target && p.Error == "" && p.File != "" {
			return p
		}
	}
	return nil
}

func captureText(c ProfileCapture) string {
	if c.Error != "" {
		return fmt.Sprintf("heap profile %d of %s failed: %s", c.N, c.Target, c.Error)
	}
	return fmt.Sprintf("heap profile %d captured from %s (%s)", c.N, c.Target, Bytes(int64(c.Bytes)))
}

// DiffText says what grew, for the timeline and the channel: the net
// growth, then the top sites with file:line, growth and share.
func DiffText(d ProfileDiff) string {
	var b strings.Builder
	fmt.Fprintf(&b, "heap growth on %s between profile %d (%s) and %d (%s): %s in use", d.Target, d.Base, d.Since.Format("15:04:05"),
		d.Next, d.At.Format("15:04:05 UTC"), signed(d.Growth))
	if len(d.Sites) == 0 {
		b.WriteString("; no allocation site grew")
	}
	for i, s := range d.Sites {
		fmt.Fprintf(&b, "\n%d. %s (%s:%d) %s, %.0f%% of the growth", i+1, s.Function, s.File, s.Line, signed(s.Growth), 100*s.Share)
	}
	return b.String()
}

func signed(n int64) string {
	if n < 0 {
		return "-" + Bytes(-n)
	}
	return "+" + Bytes(n)
}

// Bytes writes a size with a binary unit: 512 B, 3.4 MB (MiB), 1.2 GB.
func Bytes(n int64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f, i = f/1024, i+1
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// Profiles returns the heap profiles captured for incident id and their
// diffs.
func (s *Service) Profiles(ctx context.Context, id int64) ([]ProfileCapture, []ProfileDiff, error) {
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return inc.Profiles, inc.ProfileDiffs, nil
}

// ProfileData returns the stored bytes of capture n of incident id.
func (s *Service) ProfileData(ctx context.Context, id int64, n int) ([]byte, error) {
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > len(inc.Profiles) || inc.Profiles[n-1].File == "" || s.blobs == nil {
		return nil, fmt.Errorf("%w: %s has no stored heap profile %d", ErrNotFound, inc.Key(), n)
	}
	return s.blobs.Get(inc.Profiles[n-1].File)
}
