package bot

import (
	"context"
	"fmt"
	"time"
)

// DeliveryPin fetches the message Ref (its Slack ts) in the incident's
// channel and adds its text and author to the timeline; Actor pinned it.
const DeliveryPin DeliveryKind = "pin"

// Request asks the chat to do something for incident id that needs a call
// to the chat itself (post a runbook, upload the postmortem, read a pinned
// message). It is enqueued durably and done by the delivery worker; it
// fails with ErrConflict when no chat is attached.
func (s *Service) Request(ctx context.Context, id int64, kind DeliveryKind, ref, actor string) error {
	_, err := s.RequestOnce(ctx, "", id, kind, ref, actor)
	return err
}

// eventMemory is how long inbound event IDs are remembered: Slack retries a
// missed event three times within about five minutes.
const eventMemory = time.Hour

// RequestOnce is Request for an inbound event (Slack's event_id): the event
// is marked seen in the same transaction that enqueues the request, so a
// retried or redelivered event acts once and a failed one is not lost.
// fresh is false when the event was already handled. An empty eventID
// skips the check.
func (s *Service) RequestOnce(ctx context.Context, eventID string, id int64, kind DeliveryKind, ref, actor string) (fresh bool, err error) {
	if !s.chat {
		return false, fmt.Errorf("%w: Slack is not configured", ErrConflict)
	}
	switch kind {
	case DeliveryRunbook, DeliveryPostmortem, DeliveryPin, DeliveryRefresh:
	default:
		return false, fmt.Errorf("%w: %q cannot be requested", ErrInvalid, kind)
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		fresh = true
		inc, err := tx.IncidentHeader(id)
		if err != nil {
			return err
		}
		if eventID != "" {
			var err error
			if fresh, err = tx.MarkEvent(eventID, s.Now(), eventMemory); err != nil || !fresh {
				return err
			}
		}
		if kind == DeliveryPostmortem {
			if err := markExported(tx, inc, s.Now()); err != nil {
				return err
			}
		}
		return tx.Enqueue(&Delivery{IncidentID: id, Kind: kind, Ref: ref, Actor: actor, CreatedAt: s.Now()})
	})
	if err == nil && fresh {
		s.logFor(ctx, id).Info("chat request queued", "kind", kind, "by", actor)
	}
	return fresh, err
}
