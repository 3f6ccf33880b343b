package bot

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"
)

// memOnCall is memStore's on-call state: small slices and maps, copied
// whole by each transaction.
type memOnCall struct {
	timers      map[uint64]Timer
	escalations map[uint64]EscalationRun
	pages       map[uint64]Page
	keys        map[string]uint64
	tokens      map[string]memToken
	overrides   map[uint64]Override
	last        uint64
}

type memToken struct {
	incident int64
	page     uint64
	expires  time.Time
}

func (m memOnCall) clone() memOnCall {
	c := m
	c.timers, c.escalations, c.pages = maps.Clone(m.timers), maps.Clone(m.escalations), maps.Clone(m.pages)
	c.keys, c.tokens, c.overrides = maps.Clone(m.keys), maps.Clone(m.tokens), maps.Clone(m.overrides)
	if c.timers == nil {
		c.timers, c.escalations, c.pages = map[uint64]Timer{}, map[uint64]EscalationRun{}, map[uint64]Page{}
		c.keys, c.tokens, c.overrides = map[string]uint64{}, map[string]memToken{}, map[uint64]Override{}
	}
	return c
}

func (tx *memTx) next() uint64 { tx.st.oc.last++; return tx.st.oc.last }

func (tx *memTx) AddTimer(t *Timer) error {
	if !tx.write {
		return errReadOnly
	}
	t.ID = tx.next()
	tx.st.oc.timers[t.ID] = *t
	return nil
}

func (tx *memTx) sortedTimers() []Timer {
	out := slices.Collect(maps.Values(tx.st.oc.timers))
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Due.Equal(out[j].Due) {
			return out[i].Due.Before(out[j].Due)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (tx *memTx) DueTimers(now time.Time, limit int) ([]Timer, error) {
	var out []Timer
	for _, t := range tx.sortedTimers() {
		if t.Due.After(now) || limit > 0 && len(out) == limit {
			break
		}
		out = append(out, t)
	}
	return out, nil
}

func (tx *memTx) TimersAfter(after *Timer, until time.Time, limit int) ([]Timer, error) {
	var out []Timer
	for _, t := range tx.sortedTimers() {
		if after != nil && (t.Due.Before(after.Due) || t.Due.Equal(after.Due) && t.ID <= after.ID) {
			continue
		}
		if t.Due.After(until) || len(out) == limit {
			break
		}
		out = append(out, t)
	}
	return out, nil
}

func (tx *memTx) NextTimer() (*Timer, error) {
	all := tx.sortedTimers()
	if len(all) == 0 {
		return nil, ErrNotFound
	}
	return &all[0], nil
}

func (tx *memTx) SaveTimer(t *Timer) error {
	if !tx.write {
		return errReadOnly
	}
	if _, ok := tx.st.oc.timers[t.ID]; !ok {
		return ErrNotFound
	}
	tx.st.oc.timers[t.ID] = *t
	return nil
}

func (tx *memTx) DeleteTimer(id uint64) error {
	if !tx.write {
		return errReadOnly
	}
	delete(tx.st.oc.timers, id)
	return nil
}

func (tx *memTx) CreateEscalation(e *EscalationRun) error {
	if !tx.write {
		return errReadOnly
	}
	e.ID = tx.next()
	tx.st.oc.escalations[e.ID] = *e
	return nil
}

func (tx *memTx) SaveEscalation(e *EscalationRun) error {
	if !tx.write {
		return errReadOnly
	}
	if old, ok := tx.st.oc.escalations[e.ID]; !ok || old.IncidentID != e.IncidentID {
		return ErrNotFound
	}
	e.FiredAt = slices.Clone(e.FiredAt)
	tx.st.oc.escalations[e.ID] = *e
	return nil
}

func (tx *memTx) Escalations(incidentID int64) ([]EscalationRun, error) {
	var out []EscalationRun
	for _, id := range slices.Sorted(maps.Keys(tx.st.oc.escalations)) {
		if e := tx.st.oc.escalations[id]; e.IncidentID == incidentID {
			e.FiredAt = slices.Clone(e.FiredAt)
			out = append(out, e)
		}
	}
	return out, nil
}

func (tx *memTx) ClaimPage(p *Page) (bool, error) {
	if !tx.write {
		return false, errReadOnly
	}
	if _, ok := tx.st.oc.keys[p.Key()]; ok {
		return false, nil
	}
	p.ID = tx.next()
	tx.st.oc.pages[p.ID] = *p
	tx.st.oc.keys[p.Key()] = p.ID
	return true, nil
}

func (tx *memTx) SavePage(p *Page) error {
	if !tx.write {
		return errReadOnly
	}
	if old, ok := tx.st.oc.pages[p.ID]; !ok || old.IncidentID != p.IncidentID {
		return ErrNotFound
	}
	tx.st.oc.pages[p.ID] = *p
	return nil
}

func (tx *memTx) Page(incidentID int64, id uint64) (*Page, error) {
	p, ok := tx.st.oc.pages[id]
	if !ok || p.IncidentID != incidentID {
		return nil, fmt.Errorf("page %d: %w", id, ErrNotFound)
	}
	return &p, nil
}

func (tx *memTx) Pages(incidentID int64) ([]Page, error) {
	var out []Page
	for _, id := range slices.Sorted(maps.Keys(tx.st.oc.pages)) {
		if p := tx.st.oc.pages[id]; p.IncidentID == incidentID {
			out = append(out, p)
		}
	}
	return out, nil
}

func (tx *memTx) AddPageToken(hash string, incidentID int64, page uint64, expires time.Time) error {
	if !tx.write {
		return errReadOnly
	}
	tx.st.oc.tokens[hash] = memToken{incidentID, page, expires}
	return nil
}

func (tx *memTx) PageToken(hash string) (int64, uint64, time.Time, error) {
	t, ok := tx.st.oc.tokens[hash]
	if !ok {
		return 0, 0, time.Time{}, ErrNotFound
	}
	return t.incident, t.page, t.expires, nil
}

func (tx *memTx) AddOverride(o *Override) error {
	if !tx.write {
		return errReadOnly
	}
	o.ID = tx.next()
	tx.st.oc.overrides[o.ID] = *o
	for id, old := range tx.st.oc.overrides {
		if old.End.Before(o.CreatedAt.Add(-7 * 24 * time.Hour)) {
			delete(tx.st.oc.overrides, id)
		}
	}
	return nil
}

func (tx *memTx) Overrides() ([]Override, error) {
	var out []Override
	for _, id := range slices.Sorted(maps.Keys(tx.st.oc.overrides)) {
		out = append(out, tx.st.oc.overrides[id])
	}
	return out, nil
}
