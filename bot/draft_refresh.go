package bot

import (
	"context"
	"errors"
	"time"
)

// The postmortem draft posted into an incident's channel is a file: it
// does not change by itself. Once it has been posted, a change to the
// incident schedules a refresh (a durable timer, one per incident at a
// time), and the refresh asks the chat for a new upload that replaces the
// old file. Refreshes are at least DraftRefreshEvery apart, so a chatty
// incident uploads a few files an hour, not one per note; the changes in
// between are coalesced into the next one. Resolving and correcting are
// changes like any other: the draft in the channel always catches up.

// TimerDraft refreshes the postmortem draft posted in an incident's channel.
const TimerDraft TimerKind = "draft"

// DraftRefreshEvery is the least time between two uploads of one
// incident's draft, whatever the incident does in between.
const DraftRefreshEvery = 5 * time.Minute

// DraftRefreshRef is the Ref of a DeliveryPostmortem that replaces the
// draft already in the channel (the chat says so, and removes the old one).
const DraftRefreshRef = "refresh"

// DraftPost is what the incident knows of the draft posted into its chat.
type DraftPost struct {
	// PostedAt is when the last upload (an export or a refresh) was asked for.
	PostedAt time.Time `json:"posted_at"`
	// RefreshAt is when the scheduled refresh fires (a TimerDraft exists);
	// nil when none is scheduled.
	RefreshAt *time.Time `json:"refresh_at,omitempty"`
}

// noDraftChange are the entries that do not change the draft: what the
// chat did (its own uploads among them: a refresh must not schedule the
// next), and what failed there.
var noDraftChange = map[Kind]bool{KindPostmortemExported: true, KindDeliveryFailed: true, KindChannelCreated: true,
	KindRespondersInvited: true, KindRunbookPosted: true, KindGraphFailed: true}

// markExported records, in the transaction that enqueues an export, that
// the draft is in the chat from now on.
func markExported(tx Tx, inc *Incident, now time.Time) error {
	d := DraftPost{PostedAt: now}
	if inc.Draft != nil {
		d.RefreshAt = inc.Draft.RefreshAt // a scheduled refresh still fires
	}
	inc.Draft = &d
	return tx.UpdateIncident(inc)
}

// scheduleDraftRefresh schedules, in the transaction of a change to inc
// (changed: one that shows in the draft), the refresh of a draft posted
// earlier, unless one is already scheduled: it will show this change too.
func (s *Service) scheduleDraftRefresh(tx Tx, inc *Incident, changed bool, now time.Time) error {
	if !s.chat || !changed || inc.Draft == nil || inc.Draft.RefreshAt != nil {
		return nil
	}
	due := inc.Draft.PostedAt.Add(DraftRefreshEvery)
	if due.Before(now) {
		due = now
	}
	if err := tx.AddTimer(&Timer{Due: due, Kind: TimerDraft, IncidentID: inc.ID, CreatedAt: now}); err != nil {
		return err
	}
	d := *inc.Draft
	d.RefreshAt = &due
	inc.Draft = &d
	return tx.UpdateIncident(inc)
}

func changesDraft(entries []*TimelineEntry) bool {
	for _, e := range entries {
		if !noDraftChange[e.Kind] {
			return true
		}
	}
	return false
}

// refreshDraft handles a TimerDraft: it deletes the timer and enqueues
// the upload of the draft as it is now, in one transaction. An incident
// deleted meanwhile (retention) has nothing to refresh.
func (s *Service) refreshDraft(ctx context.Context, t Timer, now time.Time) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if err := tx.DeleteTimer(t.ID); err != nil {
			return err
		}
		inc, err := tx.IncidentHeader(t.IncidentID)
		if errors.Is(err, ErrNotFound) || (err == nil && inc.Draft == nil) {
			return nil
		}
		if err != nil {
			return err
		}
		inc.Draft = &DraftPost{PostedAt: now}
		if err := tx.UpdateIncident(inc); err != nil {
			return err
		}
		if !s.chat {
			return nil
		}
		return tx.Enqueue(&Delivery{IncidentID: inc.ID, Kind: DeliveryPostmortem, Ref: DraftRefreshRef, CreatedAt: now})
	})
}
