package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// memStore is an in-memory Store for tests. Each Update works on a copy
// that replaces the state only when fn succeeds, as a real transaction.
type memStore struct {
	mu sync.Mutex
	st memState
	// failUpdates makes the next n Updates fail with ErrUnavailable.
	failUpdates int
}

type memState struct {
	incidents map[int64][]byte
	timeline  map[int64][]TimelineEntry
	outbox    map[uint64]Delivery
	events    map[string]time.Time
	lastInc   int64
	lastEntry uint64
	lastDel   uint64
	oc        memOnCall // oncall_memstore_test.go
}

func newMemStore() *memStore {
	return &memStore{st: memState{incidents: map[int64][]byte{}, timeline: map[int64][]TimelineEntry{},
		outbox: map[uint64]Delivery{}, events: map[string]time.Time{}}}
}

func (s memState) clone() memState {
	c := s
	c.incidents = maps.Clone(s.incidents)
	c.outbox = maps.Clone(s.outbox)
	c.events = maps.Clone(s.events)
	c.oc = s.oc.clone()
	c.timeline = make(map[int64][]TimelineEntry, len(s.timeline))
	for k, v := range s.timeline {
		c.timeline[k] = slices.Clone(v)
	}
	return c
}

func (m *memStore) Update(ctx context.Context, fn func(tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failUpdates > 0 {
		m.failUpdates--
		return fmt.Errorf("%w: disk on fire", ErrUnavailable)
	}
	st := m.st.clone()
	if err := fn(&memTx{st: &st, write: true}); err != nil {
		return err
	}
	m.st = st
	return nil
}

func (m *memStore) View(ctx context.Context, fn func(tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.st.clone()
	return fn(&memTx{st: &st})
}

type memTx struct {
	st    *memState
	write bool
}

var errReadOnly = errors.New("read-only transaction")

func (tx *memTx) Incident(id int64) (*Incident, error) {
	b, ok := tx.st.incidents[id]
	if !ok {
		return nil, fmt.Errorf("incident %d: %w", id, ErrNotFound)
	}
	var inc Incident
	return &inc, json.Unmarshal(b, &inc)
}

func (tx *memTx) all() []*Incident {
	var out []*Incident
	for id := tx.st.lastInc; id > 0; id-- {
		if inc, err := tx.Incident(id); err == nil {
			out = append(out, inc)
		}
	}
	return out
}

func (tx *memTx) LatestInGroup(receiver, groupKey string) (*Incident, error) {
	for _, inc := range tx.all() {
		if inc.Receiver == receiver && inc.GroupKey == groupKey {
			return inc, nil
		}
	}
	return nil, ErrNotFound
}

func (tx *memTx) IncidentByChannel(channelID string) (*Incident, error) {
	for _, inc := range tx.all() {
		if channelID != "" && inc.SlackChannelID == channelID {
			return inc, nil
		}
	}
	return nil, ErrNotFound
}

func (tx *memTx) Incidents(f IncidentFilter) ([]*Incident, error) {
	var out []*Incident
	for _, inc := range tx.all() {
		if (f.Open == nil || *f.Open == inc.Open()) && (f.Before == 0 || inc.ID < f.Before) {
			out = append(out, inc)
		}
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

func (tx *memTx) put(inc *Incident) error {
	b, err := json.Marshal(inc)
	tx.st.incidents[inc.ID] = b
	return err
}

func (tx *memTx) CreateIncident(inc *Incident) error {
	if !tx.write {
		return errReadOnly
	}
	tx.st.lastInc++
	inc.ID = tx.st.lastInc
	return tx.put(inc)
}

func (tx *memTx) UpdateIncident(inc *Incident) error {
	if !tx.write {
		return errReadOnly
	}
	if _, ok := tx.st.incidents[inc.ID]; !ok {
		return ErrNotFound
	}
	return tx.put(inc)
}

func (tx *memTx) Append(entries ...*TimelineEntry) error {
	if !tx.write {
		return errReadOnly
	}
	for _, e := range entries {
		tx.st.lastEntry++
		e.ID = tx.st.lastEntry
		tx.st.timeline[e.IncidentID] = append(tx.st.timeline[e.IncidentID], *e)
	}
	return nil
}

func (tx *memTx) Timeline(id int64) ([]TimelineEntry, error) {
	return slices.Clone(tx.st.timeline[id]), nil
}

func (tx *memTx) Enqueue(d *Delivery) error {
	if !tx.write {
		return errReadOnly
	}
	tx.st.lastDel++
	d.ID = tx.st.lastDel
	tx.st.outbox[d.ID] = *d
	return nil
}

func (tx *memTx) Pending(limit int) ([]Delivery, error) {
	ids := slices.Sorted(maps.Keys(tx.st.outbox))
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]Delivery, len(ids))
	for i, id := range ids {
		out[i] = tx.st.outbox[id]
	}
	return out, nil
}

func (tx *memTx) SaveDelivery(d *Delivery) error {
	if !tx.write {
		return errReadOnly
	}
	if _, ok := tx.st.outbox[d.ID]; !ok {
		return ErrNotFound
	}
	tx.st.outbox[d.ID] = *d
	return nil
}

func (tx *memTx) Done(id uint64) error {
	if !tx.write {
		return errReadOnly
	}
	delete(tx.st.outbox, id)
	return nil
}

func (tx *memTx) MarkEvent(id string, now time.Time, keep time.Duration) (bool, error) {
	if !tx.write {
		return false, errReadOnly
	}
	if _, ok := tx.st.events[id]; ok {
		return false, nil
	}
	tx.st.events[id] = now
	return true, nil
}
