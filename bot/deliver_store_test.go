package bot

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// memStore is an in-memory Store for tests. Each Update works on a copy
// that replaces the state only when fn succeeds, as a real transaction.
type memStore struct {
	// mu is a one-slot semaphore rather than a sync.Mutex so that an
	// Update waiting for another gives up when its ctx ends.
	mu chan struct{}
	st memState
	// failUpdates makes the next n Updates fail with ErrUnavailable.
	failUpdates int
	// updates counts the Updates that ran fn.
	updates int
}

type memState struct {
	incidents map[int64][]byte
	alerts    map[int64]map[string]memAlert
	groups    map[[2]string]GroupState
	timeline  map[int64][]TimelineEntry
	outbox    map[uint64]Delivery
	events    map[string]time.Time
	lastInc   int64
	lastEntry uint64
	lastDel   uint64
	oc        memOnCall // oncall_memstore_test.go
	lastAlert uint64
	// chat: (incident, adapter) -> record; rooms: (adapter, room) -> incident.
	chat  map[memChatKey]ChatRecord
	rooms map[[2]string]int64
}

type memChatKey struct {
	incident int64
	adapter  string
}

// memAlert is a stored alert: its JSON, its digest, and its place in the
// incident's order.
type memAlert struct {
	seq    uint64
	digest Digest
	json   []byte
}

func newMemStore() *memStore {
	return &memStore{mu: make(chan struct{}, 1), st: memState{incidents: map[int64][]byte{}, alerts: map[int64]map[string]memAlert{},
		groups: map[[2]string]GroupState{}, timeline: map[int64][]TimelineEntry{},
		outbox: map[uint64]Delivery{}, events: map[string]time.Time{}, chat: map[memChatKey]ChatRecord{}, rooms: map[[2]string]int64{}}}
}

func (s memState) clone() memState {
	c := s
	c.incidents = maps.Clone(s.incidents)
	c.outbox = maps.Clone(s.outbox)
	c.events = maps.Clone(s.events)
	c.oc = s.oc.clone()
	c.groups = maps.Clone(s.groups)
	c.chat = maps.Clone(s.chat)
	c.rooms = maps.Clone(s.rooms)
	c.alerts = make(map[int64]map[string]memAlert, len(s.alerts))
	for k, v := range s.alerts {
		c.alerts[k] = maps.Clone(v)
	}
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
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	if m.failUpdates > 0 {
		m.failUpdates--
		return fmt.Errorf("%w: disk on fire", ErrUnavailable)
	}
	st := m.st.clone()
	m.updates++
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
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	st := m.st.clone()
	return fn(&memTx{st: &st})
}

func (m *memStore) lock(ctx context.Context) error {
	select {
	case m.mu <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

func (m *memStore) unlock() { <-m.mu }

type memTx struct {
	st    *memState
	write bool
}

var errReadOnly = errors.New("read-only transaction")

func (tx *memTx) IncidentHeader(id int64) (*Incident, error) {
	b, ok := tx.st.incidents[id]
	if !ok {
		return nil, fmt.Errorf("incident %d: %w", id, ErrNotFound)
	}
	var inc Incident
	return &inc, json.Unmarshal(b, &inc)
}

func (tx *memTx) Incident(id int64) (*Incident, error) {
	inc, err := tx.IncidentHeader(id)
	if err != nil {
		return nil, err
	}
	stored := slices.SortedFunc(maps.Values(tx.st.alerts[id]), func(a, b memAlert) int { return cmp.Compare(a.seq, b.seq) })
	for _, m := range stored {
		var a Alert
		if err := json.Unmarshal(m.json, &a); err != nil {
			return nil, err
		}
		inc.Alerts = append(inc.Alerts, a)
	}
	return inc, nil
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
	g, ok := tx.st.groups[[2]string{receiver, groupKey}]
	if !ok {
		return nil, ErrNotFound
	}
	return tx.Incident(g.Incident)
}

func (tx *memTx) IncidentByRoom(adapter, room string) (*Incident, error) {
	id, ok := tx.st.rooms[[2]string{adapter, room}]
	if !ok || room == "" {
		return nil, fmt.Errorf("room %q of %q: %w", room, adapter, ErrNotFound)
	}
	return tx.Incident(id)
}

func (tx *memTx) ChatRecord(id int64, adapter string) (ChatRecord, error) {
	r := tx.st.chat[memChatKey{id, adapter}]
	r.Data = slices.Clone(r.Data)
	return r, nil
}

func (tx *memTx) ChatRecords(id int64) (map[string]ChatRecord, error) {
	out := map[string]ChatRecord{}
	for k, r := range tx.st.chat {
		if k.incident == id {
			r.Data = slices.Clone(r.Data)
			out[k.adapter] = r
		}
	}
	return out, nil
}

func (tx *memTx) PutChatRecord(id int64, adapter string, r ChatRecord) error {
	if !tx.write {
		return errReadOnly
	}
	if adapter == "" {
		return fmt.Errorf("%w: chat record without an adapter name", ErrInvalid)
	}
	if _, ok := tx.st.incidents[id]; !ok {
		return fmt.Errorf("incident %d: %w", id, ErrNotFound)
	}
	k := memChatKey{id, adapter}
	old := tx.st.chat[k]
	if old.Room != "" && old.Room != r.Room && tx.st.rooms[[2]string{adapter, old.Room}] == id {
		delete(tx.st.rooms, [2]string{adapter, old.Room})
	}
	if r.Room != "" {
		tx.st.rooms[[2]string{adapter, r.Room}] = id
	}
	r.Data = slices.Clone(r.Data)
	tx.st.chat[k] = r
	return nil
}

func (tx *memTx) Incidents(f IncidentFilter) ([]*Incident, error) {
	var out []*Incident
	for _, inc := range tx.all() {
		if (f.Open == nil || *f.Open == inc.Open()) && (f.Before == 0 || inc.ID < f.Before) {
			if !f.WithAlerts {
				inc.Alerts = nil
			}
			out = append(out, inc)
		}
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

func (tx *memTx) put(inc *Incident) error {
	h := *inc
	h.Alerts = nil
	b, err := json.Marshal(&h)
	tx.st.incidents[inc.ID] = b
	return err
}

func (tx *memTx) CreateIncident(inc *Incident) error {
	if !tx.write {
		return errReadOnly
	}
	tx.st.lastInc++
	inc.ID = tx.st.lastInc
	if inc.GroupKey != "" {
		k := [2]string{inc.Receiver, inc.GroupKey}
		tx.st.groups[k] = GroupState{Incident: inc.ID, Rev: tx.st.groups[k].Rev + 1}
	}
	if len(inc.Alerts) > 0 {
		digests := make([]Digest, len(inc.Alerts))
		for i := range inc.Alerts {
			digests[i] = AlertDigest(&inc.Alerts[i])
		}
		if err := tx.put(inc); err != nil {
			return err
		}
		return tx.PutAlerts(inc.ID, inc.Alerts, digests)
	}
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

func (tx *memTx) Group(receiver, groupKey string) (GroupState, error) {
	g, ok := tx.st.groups[[2]string{receiver, groupKey}]
	if !ok {
		return GroupState{}, ErrNotFound
	}
	return g, nil
}

func (tx *memTx) SetGroupDigest(receiver, groupKey string, d Digest, open bool) error {
	if !tx.write {
		return errReadOnly
	}
	k := [2]string{receiver, groupKey}
	g, ok := tx.st.groups[k]
	if !ok {
		return ErrNotFound
	}
	g.Rev++
	g.Digest, g.Open = d, open
	tx.st.groups[k] = g
	return nil
}

func (tx *memTx) AlertDigests(id int64, fps []string) ([]Digest, error) {
	out := make([]Digest, len(fps))
	for i, fp := range fps {
		out[i] = tx.st.alerts[id][fp].digest
	}
	return out, nil
}

func (tx *memTx) AlertsByFingerprint(id int64, fps []string) (map[string]Alert, error) {
	out := map[string]Alert{}
	for _, fp := range fps {
		if m, ok := tx.st.alerts[id][fp]; ok {
			var a Alert
			if err := json.Unmarshal(m.json, &a); err != nil {
				return nil, err
			}
			out[fp] = a
		}
	}
	return out, nil
}

func (tx *memTx) PutAlerts(id int64, alerts []Alert, digests []Digest) error {
	if !tx.write {
		return errReadOnly
	}
	if _, ok := tx.st.incidents[id]; !ok {
		return ErrNotFound
	}
	if len(alerts) != len(digests) {
		return ErrInvalid
	}
	if tx.st.alerts[id] == nil {
		tx.st.alerts[id] = map[string]memAlert{}
	}
	for i, a := range alerts {
		b, err := json.Marshal(&a)
		if err != nil {
			return err
		}
		m, ok := tx.st.alerts[id][a.Fingerprint]
		if !ok {
			tx.st.lastAlert++
			m.seq = tx.st.lastAlert
		}
		m.digest, m.json = digests[i], b
		tx.st.alerts[id][a.Fingerprint] = m
	}
	return nil
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

func (tx *memTx) ReplaceEntry(e *TimelineEntry) error {
	if !tx.write {
		return errReadOnly
	}
	list := tx.st.timeline[e.IncidentID]
	for i := range list {
		if list[i].ID == e.ID {
			list[i] = *e
			return nil
		}
	}
	return fmt.Errorf("entry %d: %w", e.ID, ErrNotFound)
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

func (tx *memTx) PendingAfter(after uint64, limit int) ([]Delivery, error) {
	var out []Delivery
	for _, id := range slices.Sorted(maps.Keys(tx.st.outbox)) {
		if id > after && (limit <= 0 || len(out) < limit) {
			out = append(out, tx.st.outbox[id])
		}
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
	for old, at := range tx.st.events {
		if at.Before(now.Add(-keep)) {
			delete(tx.st.events, old)
		}
	}
	if _, ok := tx.st.events[id]; ok {
		return false, nil
	}
	tx.st.events[id] = now
	return true, nil
}

func (tx *memTx) ExpiredIncidents(cutoff time.Time, after int64, limit int) ([]int64, int64, error) {
	var ids []int64
	for id := after + 1; id <= tx.st.lastInc; id++ {
		if limit > 0 && len(ids) == limit {
			return ids, id - 1, nil
		}
		inc, err := tx.IncidentHeader(id)
		if err != nil {
			continue
		}
		if !inc.Open() && inc.ResolvedAt != nil && inc.ResolvedAt.Before(cutoff) {
			ids = append(ids, id)
		}
	}
	return ids, 0, nil
}

func (tx *memTx) DeleteIncident(id int64, max int) (bool, error) {
	if !tx.write {
		return false, errReadOnly
	}
	inc, err := tx.IncidentHeader(id)
	if err != nil {
		return true, nil
	}
	// Up to max alerts and entries per call, like the real stores, so
	// that the retention loop's paging is exercised here too.
	n := 0
	for fp := range tx.st.alerts[id] {
		if max > 0 && n == max {
			return false, nil
		}
		delete(tx.st.alerts[id], fp)
		n++
	}
	for len(tx.st.timeline[id]) > 0 {
		if max > 0 && n == max {
			return false, nil
		}
		tx.st.timeline[id] = tx.st.timeline[id][1:]
		n++
	}
	delete(tx.st.alerts, id)
	delete(tx.st.timeline, id)
	delete(tx.st.incidents, id)
	for k, r := range tx.st.chat {
		if k.incident == id {
			if tx.st.rooms[[2]string{k.adapter, r.Room}] == id {
				delete(tx.st.rooms, [2]string{k.adapter, r.Room})
			}
			delete(tx.st.chat, k)
		}
	}
	tx.st.oc = tx.st.oc.clone()
	for k, e := range tx.st.oc.escalations {
		if e.IncidentID == id {
			delete(tx.st.oc.escalations, k)
		}
	}
	for k, p := range tx.st.oc.pages {
		if p.IncidentID == id {
			delete(tx.st.oc.pages, k)
			delete(tx.st.oc.keys, p.Key())
		}
	}
	for k, tok := range tx.st.oc.tokens {
		if tok.incident == id {
			delete(tx.st.oc.tokens, k)
		}
	}
	k := [2]string{inc.Receiver, inc.GroupKey}
	if g, ok := tx.st.groups[k]; ok && g.Incident == id {
		delete(tx.st.groups, k)
	}
	return true, nil
}
