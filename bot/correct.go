package bot

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Correction changes a timeline entry: its time, its text, whether it is
// struck. Nil fields stay as they are.
type Correction struct {
	// At is the new moment; When is the same typed as a command's leading
	// time ("14:05", "2024-06-20 14:05", RFC 3339), read in the zone.
	At   *time.Time
	When string
	Text *string
	// Struck strikes the entry out (true) or restores it (false).
	Struck *bool
	// By is who corrects it: a user ID, or ActorAPI.
	By string
}

// ActorAPI is the actor of changes made through the JSON API.
const ActorAPI = "api"

// maxEntryText bounds an entry's corrected text.
const maxEntryText = MaxCommandText

// Correct corrects entry entryID of incident id. Nothing is deleted: the
// entry keeps its earlier version in History, with who replaced it and
// when, and EditedAt says when it last changed. Struck entries stay on the
// timeline and leave the draft. What the incident records from its
// entries follows: impact, cause and action items are re-read from the
// entries not struck, and a moved acknowledgement, mitigation or
// resolution moves the incident's time too. The channel is told.
//
// Errors wrap ErrNotFound (no such incident or entry), ErrInvalid (bad
// text or time, nothing to change) or ErrConflict (it is so already).
func (s *Service) Correct(ctx context.Context, id int64, entryID uint64, c Correction) (*TimelineEntry, error) {
	c.By = Person(strings.TrimSpace(c.By))
	if c.By == "" {
		return nil, fmt.Errorf("%w: actor is empty", ErrInvalid)
	}
	if c.Text != nil {
		t := NormalizeMentions(strings.TrimSpace(CleanText(*c.Text)))
		if t == "" {
			return nil, fmt.Errorf("%w: text is empty; strike the entry instead", ErrInvalid)
		}
		if len(t) > maxEntryText {
			return nil, fmt.Errorf("%w: text is longer than %d bytes", ErrInvalid, maxEntryText)
		}
		c.Text = &t
	}
	if c.At == nil && c.When == "" && c.Text == nil && c.Struck == nil {
		return nil, fmt.Errorf("%w: nothing to correct: give a time, a text or struck", ErrInvalid)
	}
	var out *TimelineEntry
	err := s.store.Update(ctx, func(tx Tx) error {
		out = nil
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		tl, err := tx.Timeline(id)
		if err != nil {
			return err
		}
		i := entryIndex(tl, entryID)
		if i < 0 {
			return fmt.Errorf("%w: %s has no timeline entry %d", ErrNotFound, inc.Key(), entryID)
		}
		old := tl[i]
		e, err := s.corrected(old, c)
		if err != nil {
			return err
		}
		if !e.At.Equal(old.At) || e.BeforeDetection == nil {
			e.markDetection(inc)
		}
		if err := tx.ReplaceEntry(&e); err != nil {
			return err
		}
		tl[i] = e
		refold(inc, tl, old, e)
		if err := tx.UpdateIncident(inc); err != nil {
			return err
		}
		if err := s.scheduleDraftRefresh(tx, inc, true, s.Now()); err != nil {
			return err
		}
		out = &e
		if !s.chat {
			return nil
		}
		now := s.Now()
		post := fmt.Sprintf("✏️ %s corrected an entry: %s", Mention(c.By), describeCorrection(old, e, now, s.zone))
		for _, d := range []*Delivery{
			{IncidentID: id, Kind: DeliveryRefresh, CreatedAt: now},
			{IncidentID: id, Kind: DeliveryPost, Text: post, Actor: c.By, CreatedAt: now},
		} {
			if err := tx.Enqueue(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.logFor(ctx, id).Info("timeline entry corrected", "entry", entryID, "by", c.By)
	return out, nil
}

// corrected is old with c applied and its earlier version kept.
func (s *Service) corrected(old TimelineEntry, c Correction) (TimelineEntry, error) {
	now := s.Now()
	e := old
	switch {
	case c.When != "":
		at, err := ParseWhen(c.When, s.zone, now)
		if err != nil {
			return e, err
		}
		e.At = at
	case c.At != nil:
		at, err := CheckWhen(*c.At, now)
		if err != nil {
			return e, err
		}
		e.At = at.Truncate(time.Second)
	}
	if c.Text != nil {
		e.Text = *c.Text
	}
	if c.Struck != nil {
		e.Struck = *c.Struck
	}
	if e.At.Equal(old.At) && e.Text == old.Text && e.Struck == old.Struck {
		return e, fmt.Errorf("%w: entry %d already reads so", ErrConflict, old.ID)
	}
	e.History = append(append([]EntryVersion(nil), old.History...),
		EntryVersion{At: old.At, Text: old.Text, Struck: old.Struck, By: c.By, ReplacedAt: now})
	e.EditedAt = &now
	return e, nil
}

func entryIndex(tl []TimelineEntry, id uint64) int {
	for i := range tl {
		if tl[i].ID == id {
			return i
		}
	}
	return -1
}

// The prefixes the lifecycle writes before what people typed.
const (
	impactPrefix = "impact: "
	causePrefix  = "cause: "
	actionPrefix = "action item: "
)

// refold brings what the incident keeps from its entries in line with the
// corrected timeline tl (old became e).
func refold(inc *Incident, tl []TimelineEntry, old, e TimelineEntry) {
	SortTimeline(tl)
	switch e.Kind {
	case KindImpact, KindCause:
		v := ""
		for _, x := range tl {
			if x.Kind == e.Kind && !x.Struck {
				v = strings.TrimPrefix(strings.TrimPrefix(x.Text, impactPrefix), causePrefix)
			}
		}
		if e.Kind == KindImpact {
			inc.Impact = v
		} else {
			inc.Cause = v
		}
	case KindActionItem:
		var items []ActionItem
		for _, x := range tl {
			if x.Kind == KindActionItem && !x.Struck {
				items = append(items, ActionItem{Text: strings.TrimPrefix(x.Text, actionPrefix), By: x.Actor, At: x.At})
			}
		}
		inc.ActionItems = items
	}
	if e.At.Equal(old.At) {
		return
	}
	move := func(p **time.Time) {
		if *p != nil && (*p).Equal(old.At) {
			at := e.At
			*p = &at
		}
	}
	switch e.Kind {
	case KindAcknowledged:
		move(&inc.AcknowledgedAt)
	case KindStatus:
		if strings.HasSuffix(e.Text, "to "+string(StatusMonitoring)) {
			move(&inc.MitigatedAt)
		}
	case KindResolved:
		move(&inc.ResolvedAt)
		move(&inc.MitigatedAt)
	}
}

// describeCorrection says what changed, for the channel.
func describeCorrection(old, e TimelineEntry, now time.Time, loc *time.Location) string {
	var parts []string
	if !e.At.Equal(old.At) {
		parts = append(parts, "time "+ClockIn(old.At, now, loc)+" → "+ClockIn(e.At, now, loc))
	}
	if e.Text != old.Text {
		parts = append(parts, "text was “"+OneLine(clip(old.Text, 200))+"”")
	}
	switch {
	case e.Struck && !old.Struck:
		parts = append(parts, "struck out")
	case !e.Struck && old.Struck:
		parts = append(parts, "restored")
	}
	return "“" + OneLine(clip(e.Text, 300)) + "” (" + strings.Join(parts, "; ") + ")"
}

// Entry returns incident id and its timeline entry entryID, or an error
// wrapping ErrNotFound.
func (s *Service) Entry(ctx context.Context, id int64, entryID uint64) (*Incident, TimelineEntry, error) {
	var inc *Incident
	var e TimelineEntry
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if inc, err = tx.Incident(id); err != nil {
			return err
		}
		tl, err := tx.Timeline(id)
		if err != nil {
			return err
		}
		i := entryIndex(tl, entryID)
		if i < 0 {
			return fmt.Errorf("%w: %s has no timeline entry %d", ErrNotFound, inc.Key(), entryID)
		}
		e = tl[i]
		return nil
	})
	return inc, e, err
}
