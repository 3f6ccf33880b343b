package bot

import (
	"fmt"
	"sort"
	"time"
)

// Rotation is one on-call schedule: members take turns, one shift each, in
// order, from Start on.
//
// A shift of whole days (24h, 168h...) hands off at the same wall-clock time
// in Zone across daylight-saving changes, so it is computed in civil time: a
// "weekly at Monday 09:00" shift stays Monday 09:00 even when that week is
// 167 or 169 hours long. A shift that is not whole days (8h, 12h) is a fixed
// duration from Start: it follows the clock of the world, not of the wall,
// and its hand-offs move by an hour on the wall clock at a change.
type Rotation struct {
	Name string
	// Zone is where Start's wall-clock time is read; nil means UTC.
	Zone *time.Location
	// Start is the first hand-off. Its wall-clock fields are read in Zone.
	Start   time.Time
	Shift   time.Duration
	Members []string
}

// Override puts User on call in place of whoever the schedule names,
// from Start to End. Overrides are made at runtime and stored. Where two
// overlap, the one created later wins (the latest decision is the one
// people remember making); equal creation times fall back to the larger ID.
type Override struct {
	ID        uint64    `json:"id"`
	Team      string    `json:"team"`
	Schedule  string    `json:"schedule"`
	User      string    `json:"user"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	CreatedAt time.Time `json:"created_at"`
	By        string    `json:"by,omitempty"`
}

// MaxOverride bounds one override, so a typo ("for 2000h") cannot hand a
// schedule to one person for months.
const MaxOverride = 31 * 24 * time.Hour

// MaxOpenOverrides bounds the overrides of one schedule that have not
// ended: anyone may make one, and each is weighed in every answer to who
// is on call and makes two hand-off notes.
const MaxOpenOverrides = 50

// Shift is a stretch of time one person is on call.
type Shift struct {
	User       string    `json:"user"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Override   bool      `json:"override,omitempty"`
	OverrideBy string    `json:"override_by,omitempty"`
}

func (r Rotation) zone() *time.Location {
	if r.Zone == nil {
		return time.UTC
	}
	return r.Zone
}

func (r Rotation) wholeDays() int {
	if r.Shift > 0 && r.Shift%(24*time.Hour) == 0 {
		return int(r.Shift / (24 * time.Hour))
	}
	return 0
}

// Check reports what makes the rotation unusable, wrapping ErrInvalid.
func (r Rotation) Check() error {
	switch {
	case r.Shift <= 0:
		return fmt.Errorf("%w: shift must be longer than zero", ErrInvalid)
	case len(r.Members) == 0:
		return fmt.Errorf("%w: a schedule needs at least one member", ErrInvalid)
	case r.Start.IsZero():
		return fmt.Errorf("%w: a schedule needs a start", ErrInvalid)
	}
	return nil
}

// boundary returns the k-th hand-off (k may be negative).
func (r Rotation) boundary(k int64) time.Time {
	if d := r.wholeDays(); d > 0 {
		s := r.Start.In(r.zone())
		return time.Date(s.Year(), s.Month(), s.Day()+int(k)*d, s.Hour(), s.Minute(), s.Second(), s.Nanosecond(), r.zone())
	}
	return r.Start.Add(time.Duration(k) * r.Shift)
}

// index returns the number k of the shift holding t: boundary(k) <= t <
// boundary(k+1).
func (r Rotation) index(t time.Time) int64 {
	d := t.Sub(r.Start)
	k := int64(d / r.Shift)
	if d < 0 && d%r.Shift != 0 {
		k--
	}
	// Civil days are 23 to 25 hours: the estimate is off by at most one
	// shift per few hundred days of DST changes; walk to the right one.
	for r.boundary(k).After(t) {
		k--
	}
	for !r.boundary(k + 1).After(t) {
		k++
	}
	return k
}

func (r Rotation) member(k int64) string {
	n := int64(len(r.Members))
	return r.Members[((k%n)+n)%n]
}

// Scheduled returns the shift of the rotation that holds t, overrides
// ignored.
func (r Rotation) Scheduled(t time.Time) Shift {
	k := r.index(t)
	return Shift{User: r.member(k), Start: r.boundary(k).UTC(), End: r.boundary(k + 1).UTC()}
}

// overrideAt returns the override in force at t, latest created first.
func overrideAt(overrides []Override, t time.Time) (Override, bool) {
	var best Override
	found := false
	for _, o := range overrides {
		if t.Before(o.Start) || !t.Before(o.End) {
			continue
		}
		if !found || o.CreatedAt.After(best.CreatedAt) || o.CreatedAt.Equal(best.CreatedAt) && o.ID > best.ID {
			best, found = o, true
		}
	}
	return best, found
}

// Shifts returns who is on call from from to to, overrides applied, as
// consecutive stretches: adjacent stretches of one person are merged (an
// override naming the person already on call extends their stretch, and
// Override says some of it was one), so Start and End are real hand-offs
// except where cut by from and to.
func (r Rotation) Shifts(overrides []Override, from, to time.Time) []Shift {
	if !from.Before(to) || r.Check() != nil {
		return nil
	}
	points := []time.Time{from, to}
	for k := r.index(from) + 1; ; k++ {
		b := r.boundary(k)
		if !b.Before(to) {
			break
		}
		points = append(points, b)
	}
	for _, o := range overrides {
		for _, p := range []time.Time{o.Start, o.End} {
			if p.After(from) && p.Before(to) {
				points = append(points, p)
			}
		}
	}
	sort.Slice(points, func(i, j int) bool { return points[i].Before(points[j]) })
	var out []Shift
	for i := 0; i+1 < len(points); i++ {
		a, b := points[i], points[i+1]
		if !a.Before(b) {
			continue
		}
		s := Shift{User: r.Scheduled(a).User, Start: a.UTC(), End: b.UTC()}
		if o, ok := overrideAt(overrides, a); ok {
			s.User, s.Override, s.OverrideBy = o.User, true, o.By
		}
		if n := len(out); n > 0 && out[n-1].User == s.User {
			out[n-1].End = s.End
			out[n-1].Override = out[n-1].Override || s.Override
			continue
		}
		out = append(out, s)
	}
	return out
}

// OnCallNow is who holds a schedule at a moment, and who comes next.
type OnCallNow struct {
	Schedule string `json:"name"`
	Now      Shift  `json:"now"`
	// Next is the following stretch with someone else on call; its User
	// is empty when the rotation has one member and no override ahead.
	Next Shift `json:"next"`
}

// window is how far around a moment OnCall looks for hand-offs: enough
// for three shifts and the longest override.
func (r Rotation) window() time.Duration {
	w := max(3*r.Shift, MaxOverride+24*time.Hour)
	return w
}

// OnCall returns who is on call at t, since when and until when, and who
// is next. Since and until are real hand-offs, looked for as far as one
// window (three shifts, at least a month) either way; where the stretch
// reaches beyond it (a one-member rotation) Now.Start or Now.End is zero.
func (r Rotation) OnCall(overrides []Override, t time.Time) OnCallNow {
	out := OnCallNow{Schedule: r.Name}
	if r.Check() != nil {
		return out
	}
	w := r.window()
	from, to := t.Add(-w), t.Add(w)
	shifts := r.Shifts(overrides, from, to)
	for i, s := range shifts {
		if t.Before(s.Start) || !t.Before(s.End) {
			continue
		}
		out.Now = s
		if out.Now.Start.Equal(from) {
			out.Now.Start = time.Time{}
		}
		if out.Now.End.Equal(to) {
			out.Now.End = time.Time{}
		}
		for _, n := range shifts[i+1:] {
			if n.User != s.User {
				out.Next = n
				break
			}
		}
		break
	}
	return out
}

// Target is what an escalation step notifies: a schedule's on-call
// person, a user, or a channel.
type Target struct {
	Kind TargetKind `json:"kind"`
	Ref  string     `json:"ref"`
}

// TargetKind says what a Target names.
type TargetKind string

// The kinds of target.
const (
	TargetSchedule TargetKind = "schedule"
	TargetUser     TargetKind = "user"
	TargetChannel  TargetKind = "channel"
)

func (t Target) String() string { return string(t.Kind) + ":" + t.Ref }

// EscalationStep notifies its targets After the policy started.
type EscalationStep struct {
	After  time.Duration
	Notify []Target
}

// Escalation is a team's policy: steps in order, started over Repeat times
// while nobody acknowledges.
type Escalation struct {
	Steps  []EscalationStep
	Repeat int
}

// defaultRepeatGap is how long after its last step a one-step policy
// starts over.
const defaultRepeatGap = 5 * time.Minute

// cycle is how long one round of the steps lasts: a repeat starts as long
// after the last step as that step came after the one before it (5
// minutes when the policy has one step or that gap is zero).
func (e Escalation) cycle() time.Duration {
	n := len(e.Steps)
	last := e.Steps[n-1].After
	gap := defaultRepeatGap
	if n > 1 && last-e.Steps[n-2].After > 0 {
		gap = last - e.Steps[n-2].After
	}
	return last + gap
}

// Fires is how many steps the policy fires in all, repeats included.
func (e Escalation) Fires() int { return len(e.Steps) * (e.Repeat + 1) }

// StepAt returns the n-th firing of the policy started at start (0 is the
// first step of the first round): which step it is, in which round, and
// when it is due. ok is false past the last firing.
func (e Escalation) StepAt(start time.Time, n int) (step, round int, due time.Time, ok bool) {
	if n < 0 || len(e.Steps) == 0 || n >= e.Fires() {
		return 0, 0, time.Time{}, false
	}
	round, step = n/len(e.Steps), n%len(e.Steps)
	return step, round, start.Add(time.Duration(round)*e.cycle() + e.Steps[step].After), true
}

// DueAt returns how many firings of the policy started at start are due
// at now: the firings 0 to DueAt-1 should have happened.
func (e Escalation) DueAt(start, now time.Time) int {
	n := 0
	for {
		_, _, due, ok := e.StepAt(start, n)
		if !ok || due.After(now) {
			return n
		}
		n++
	}
}
