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
	if !s.chat {
		return fmt.Errorf("%w: Slack is not configured", ErrConflict)
	}
	switch kind {
	case DeliveryRunbook, DeliveryPostmortem, DeliveryPin, DeliveryRefresh:
	default:
		return fmt.Errorf("%w: %q cannot be requested", ErrInvalid, kind)
	}
	return s.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.Incident(id); err != nil {
			return err
		}
		return tx.Enqueue(&Delivery{IncidentID: id, Kind: kind, Ref: ref, Actor: actor, CreatedAt: s.Now()})
	})
}

// eventMemory is how long inbound event IDs are remembered: Slack retries a
// missed event three times within about five minutes.
const eventMemory = time.Hour

// FirstSeen records an inbound event ID (Slack's event_id) and reports
// whether it is new, so that a retried or redelivered event acts once.
func (s *Service) FirstSeen(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, fmt.Errorf("%w: event id is empty", ErrInvalid)
	}
	var fresh bool
	err := s.store.Update(ctx, func(tx Tx) (err error) {
		fresh, err = tx.MarkEvent(id, s.Now(), eventMemory)
		return err
	})
	return fresh, err
}
