package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// fillSlice is how many alerts one transaction of a fill writes: the
// first notification of a group larger than this opens its incident in
// slices of it (each slice its alerts, their digests and their timeline
// entries, tens of milliseconds of the writer), so that the store's single
// writer serves other webhooks between them.
const fillSlice = 500

// A fill is how the first notification of a big group opens its incident:
//
//  1. one transaction creates the incident's header marked Filling (it
//     takes its number and the group row points at it) with its opening
//     entry, and no alerts;
//  2. one transaction per fillSlice alerts merges them into the incident,
//     as an update would: alerts, roster, team list and timeline entries;
//  3. a last transaction clears Filling, records the group's digest, and
//     does what opening an incident does (chat, on-call, graphs).
//
// The answer goes to Alertmanager after the last commit. Until then the
// incident is hidden from every reader but ingest (hidingStore): it is not
// listed, not found by number, and has no chat, page or timer. When the
// process dies between two slices, Alertmanager sends the notification
// again (it retries until it gets a 200, and the group's next notification
// carries every alert anyway); ingest finds the group's incident still
// filling and carries on from what is stored: alerts already written
// compare equal by digest and are skipped, so nothing is lost or written
// twice. A second notification of the group arriving during a fill (an HA
// peer) does the same; whichever finishes first opens the incident, and
// the other applies what remains as an update.
//
// The number is taken at step 1, so an incident opened by another group
// during the fill shows before this one does: for those seconds the list
// has a gap, which the store contract otherwise rules out. A fill that no
// notification ever resumes keeps its number hidden.

// fillMarker is returned by apply when the notification is to be applied
// by a fill.
type fillMarker struct {
	id      int64
	entries int // the entries startFill added, when this notification created the incident
}

// startFill creates the incident of in, hidden while it fills: its header,
// with the opening entry, and no alerts yet.
func (s *Service) startFill(tx Tx, in *incoming, now time.Time) (int64, int, error) {
	inc := s.newFromNotification(in.n, now)
	inc.Filling = true
	s.noteTeams(inc, nil, true)
	truncated := noteTruncation(inc, in.n)
	if err := tx.CreateIncident(inc); err != nil {
		return 0, 0, err
	}
	opened := entry(KindOpened, inc.DetectedAt, ActorAlertmanager, "%s opened: %s (%s)", inc.Key(), inc.Title, inc.Severity)
	entries := append([]*TimelineEntry{opened}, truncated...)
	stampEntries(inc.ID, now, entries)
	return inc.ID, len(entries), tx.Append(entries...)
}

// fill applies in to the filling incident id in slices, then opens it;
// see fillSlice. res is what the answer says.
func (s *Service) fill(ctx context.Context, in *incoming, f fillMarker, now time.Time) (IngestResult, error) {
	res := IngestResult{Incident: f.id}
	changes := f.entries
	for lo := 0; lo < len(in.alerts); lo += fillSlice {
		hi := min(lo+fillSlice, len(in.alerts))
		var n int
		filling := true
		err := s.ingestStore.Update(ctx, func(tx Tx) (err error) {
			n, filling, err = s.fillOne(tx, f.id, in, lo, hi, now)
			return err
		})
		if err != nil {
			return IngestResult{}, fmt.Errorf("opening %d alerts in slices, at alert %d: %w", len(in.alerts), lo, err)
		}
		if !filling { // another notification of the group opened it meanwhile
			return s.commit(ctx, in, nil, now)
		}
		changes += n
	}
	var opened bool
	err := s.ingestStore.Update(ctx, func(tx Tx) (err error) {
		opened, err = s.openFilled(tx, f.id, in, now)
		return err
	})
	switch {
	case err != nil:
		return IngestResult{}, err
	case !opened:
		return s.commit(ctx, in, nil, now)
	}
	res.Opened, res.Changes = true, changes
	return res, nil
}

// fillOne merges in's alerts [lo, hi) into the filling incident id, and
// reports how many timeline entries that added and whether the incident
// is still filling (when not, it wrote nothing).
func (s *Service) fillOne(tx Tx, id int64, in *incoming, lo, hi int, now time.Time) (int, bool, error) {
	inc, err := tx.IncidentHeader(id)
	if err != nil {
		return 0, false, err
	}
	if !inc.Filling {
		return 0, false, nil
	}
	stored, err := tx.AlertDigests(id, in.fingerprints[lo:hi])
	if err != nil {
		return 0, false, err
	}
	var changed []int
	var fps []string
	for i, d := range stored {
		if d != in.digests[lo+i] {
			changed = append(changed, lo+i)
			if !d.IsZero() {
				fps = append(fps, in.fingerprints[lo+i])
			}
		}
	}
	var olds map[string]Alert
	if len(fps) > 0 {
		if olds, err = tx.AlertsByFingerprint(id, fps); err != nil {
			return 0, false, err
		}
	}
	m := merge(&inc.Roster, in, changed, olds)
	s.noteTeams(inc, m.alerts, false)
	if err := m.put(tx, id); err != nil {
		return 0, false, err
	}
	if len(m.alerts) == 0 {
		return 0, true, nil
	}
	if err := tx.UpdateIncident(inc); err != nil {
		return 0, false, err
	}
	stampEntries(id, now, m.entries)
	return len(m.entries), true, tx.Append(m.entries...)
}

// openFilled opens the filled incident id: it shows from now on, with
// in's digest as the group's last notification, and is announced as any
// incident opening. It reports false when another notification of the
// group opened it first.
func (s *Service) openFilled(tx Tx, id int64, in *incoming, now time.Time) (bool, error) {
	inc, err := tx.IncidentHeader(id)
	if err != nil || !inc.Filling {
		return false, err
	}
	inc.Filling = false
	var entries []*TimelineEntry
	if inc.Roster.Firing == 0 { // resumed by a notification that resolved every alert
		entries = s.cleared(inc)
	}
	if err := tx.UpdateIncident(inc); err != nil {
		return false, err
	}
	if err := tx.SetGroupDigest(in.n.Receiver, in.n.GroupKey, in.digest, inc.Open()); err != nil {
		return false, err
	}
	// The alerts in hand stand for the roster in what opening does (the
	// teams to page, the graph's expressions): nothing is read back.
	inc.Alerts = in.alerts
	return true, s.record(tx, inc, true, entries)
}

// stampEntries sets what record sets on entries before they are appended.
func stampEntries(id int64, now time.Time, entries []*TimelineEntry) {
	for _, e := range entries {
		e.IncidentID, e.RecordedAt, e.At = id, now, e.At.UTC()
	}
}

// hidingStore hides incidents that are filling from everything but ingest
// (which uses the store beneath): they are not listed and not found.
type hidingStore struct{ Store }

func (h hidingStore) Update(ctx context.Context, fn func(tx Tx) error) error {
	return h.Store.Update(ctx, func(tx Tx) error { return fn(hidingTx{tx}) })
}

func (h hidingStore) View(ctx context.Context, fn func(tx Tx) error) error {
	return h.Store.View(ctx, func(tx Tx) error { return fn(hidingTx{tx}) })
}

type hidingTx struct{ Tx }

var errFilling = fmt.Errorf("%w: the incident is still being opened", ErrNotFound)

func hide(inc *Incident, err error) (*Incident, error) {
	if err == nil && inc.Filling {
		return nil, errFilling
	}
	return inc, err
}

func (t hidingTx) Incident(id int64) (*Incident, error)       { return hide(t.Tx.Incident(id)) }
func (t hidingTx) IncidentHeader(id int64) (*Incident, error) { return hide(t.Tx.IncidentHeader(id)) }
func (t hidingTx) LatestInGroup(receiver, groupKey string) (*Incident, error) {
	return hide(t.Tx.LatestInGroup(receiver, groupKey))
}

func (t hidingTx) Timeline(id int64) ([]TimelineEntry, error) {
	if _, err := t.IncidentHeader(id); errors.Is(err, errFilling) {
		return nil, err
	}
	return t.Tx.Timeline(id)
}

// Incidents leaves filling incidents out; when that makes a page short,
// it reads on, so that a short page still means the end.
func (t hidingTx) Incidents(f IncidentFilter) ([]*Incident, error) {
	want := f.Limit
	var out []*Incident
	for {
		list, err := t.Tx.Incidents(f)
		if err != nil {
			return nil, err
		}
		for _, inc := range list {
			if !inc.Filling {
				out = append(out, inc)
			}
		}
		if want == 0 || len(list) < f.Limit || len(out) >= want {
			return out, nil
		}
		f.Limit, f.Before = want-len(out), list[len(list)-1].ID
	}
}
