package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// On-call: timers, escalation runs, pages, ack tokens, overrides.

func (t *tx) AddTimer(tm *bot.Timer) error {
	if err := t.writable("AddTimer"); err != nil {
		return err
	}
	body, err := json.Marshal(tm)
	if err != nil {
		return fmt.Errorf("encode timer: %w", err)
	}
	if err := t.notify(); err != nil {
		return err
	}
	var id uint64
	if _, err := t.row("add timer", "INSERT INTO timers (due_ns, body) VALUES ($1, $2) RETURNING id", []any{ns(tm.Due), body}, &id); err != nil {
		return err
	}
	tm.ID = id
	return nil
}

func setTimerID(tm *bot.Timer, id int64) { tm.ID = uint64(id) }

func (t *tx) DueTimers(now time.Time, limit int) ([]bot.Timer, error) {
	sql := "SELECT id, body FROM timers WHERE due_ns <= $1 ORDER BY due_ns, id"
	args := []any{ns(now)}
	if limit > 0 {
		sql += " LIMIT $2"
		args = append(args, limit)
	}
	return bodies(t, "timer", sql, args, setTimerID)
}

func (t *tx) TimersAfter(after *bot.Timer, until time.Time, limit int) ([]bot.Timer, error) {
	if limit <= 0 {
		return []bot.Timer{}, nil
	}
	if after == nil {
		return bodies(t, "timer", "SELECT id, body FROM timers WHERE due_ns <= $1 ORDER BY due_ns, id LIMIT $2",
			[]any{ns(until), limit}, setTimerID)
	}
	return bodies(t, "timer", "SELECT id, body FROM timers WHERE (due_ns, id) > ($1, $2) AND due_ns <= $3 ORDER BY due_ns, id LIMIT $4",
		[]any{ns(after.Due), int64(after.ID), ns(until), limit}, setTimerID)
}

func (t *tx) NextTimer() (*bot.Timer, error) {
	all, err := bodies(t, "timer", "SELECT id, body FROM timers ORDER BY due_ns, id LIMIT 1", nil, setTimerID)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("timer: %w", bot.ErrNotFound)
	}
	return &all[0], nil
}

func (t *tx) SaveTimer(tm *bot.Timer) error {
	if err := t.writable("SaveTimer"); err != nil {
		return err
	}
	body, err := json.Marshal(tm)
	if err != nil {
		return fmt.Errorf("encode timer %d: %w", tm.ID, err)
	}
	if err := t.notify(); err != nil {
		return err
	}
	tag, err := t.exec("save timer", "UPDATE timers SET due_ns = $2, body = $3 WHERE id = $1", int64(tm.ID), ns(tm.Due), body)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("timer %d: %w", tm.ID, bot.ErrNotFound)
	}
	return nil
}

func (t *tx) DeleteTimer(id uint64) error {
	if err := t.writable("DeleteTimer"); err != nil {
		return err
	}
	_, err := t.exec("delete timer", "DELETE FROM timers WHERE id = $1", int64(id))
	return err
}

func (t *tx) CreateEscalation(e *bot.EscalationRun) error {
	if err := t.writable("CreateEscalation"); err != nil {
		return err
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode escalation: %w", err)
	}
	var id uint64
	if _, err := t.row("create escalation", "INSERT INTO escalations (incident_id, body) VALUES ($1, $2) RETURNING id",
		[]any{e.IncidentID, body}, &id); err != nil {
		return err
	}
	e.ID = id
	return nil
}

func (t *tx) SaveEscalation(e *bot.EscalationRun) error {
	if err := t.writable("SaveEscalation"); err != nil {
		return err
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode escalation %d: %w", e.ID, err)
	}
	tag, err := t.exec("save escalation", "UPDATE escalations SET body = $3 WHERE incident_id = $1 AND id = $2", e.IncidentID, int64(e.ID), body)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("escalation %d of incident %d: %w", e.ID, e.IncidentID, bot.ErrNotFound)
	}
	return nil
}

func (t *tx) Escalations(incidentID int64) ([]bot.EscalationRun, error) {
	return bodies(t, "escalation", "SELECT id, body FROM escalations WHERE incident_id = $1 ORDER BY id", []any{incidentID},
		func(e *bot.EscalationRun, id int64) { e.ID = uint64(id) })
}

func (t *tx) ClaimPage(p *bot.Page) (bool, error) {
	if err := t.writable("ClaimPage"); err != nil {
		return false, err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("encode page: %w", err)
	}
	var id uint64
	found, err := t.row("claim page", `INSERT INTO pages (incident_id, key, body) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO NOTHING RETURNING id`, []any{p.IncidentID, []byte(p.Key()), body}, &id)
	if err != nil || !found {
		return false, err
	}
	p.ID = id
	return true, nil
}

func (t *tx) SavePage(p *bot.Page) error {
	if err := t.writable("SavePage"); err != nil {
		return err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode page %d: %w", p.ID, err)
	}
	tag, err := t.exec("save page", "UPDATE pages SET body = $3 WHERE incident_id = $1 AND id = $2", p.IncidentID, int64(p.ID), body)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("page %d of incident %d: %w", p.ID, p.IncidentID, bot.ErrNotFound)
	}
	return nil
}

func setPageID(p *bot.Page, id int64) { p.ID = uint64(id) }

func (t *tx) Page(incidentID int64, id uint64) (*bot.Page, error) {
	all, err := bodies(t, "page", "SELECT id, body FROM pages WHERE incident_id = $1 AND id = $2", []any{incidentID, int64(id)}, setPageID)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("page %d of incident %d: %w", id, incidentID, bot.ErrNotFound)
	}
	return &all[0], nil
}

func (t *tx) Pages(incidentID int64) ([]bot.Page, error) {
	return bodies(t, "page", "SELECT id, body FROM pages WHERE incident_id = $1 ORDER BY id", []any{incidentID}, setPageID)
}

func (t *tx) AddPageToken(hash string, incidentID int64, page uint64, expires time.Time) error {
	if err := t.writable("AddPageToken"); err != nil {
		return err
	}
	if hash == "" {
		return fmt.Errorf("%w: token hash is empty", bot.ErrInvalid)
	}
	_, err := t.exec("store page token", `INSERT INTO page_tokens (hash, incident_id, page, expires_ns) VALUES ($1, $2, $3, $4)
		ON CONFLICT (hash) DO UPDATE SET incident_id = excluded.incident_id, page = excluded.page, expires_ns = excluded.expires_ns`,
		[]byte(hash), incidentID, int64(page), ns(expires))
	return err
}

func (t *tx) PageToken(hash string) (int64, uint64, time.Time, error) {
	var incident, page, expires int64
	found := false
	if hash != "" {
		var err error
		found, err = t.row("read page token", "SELECT incident_id, page, expires_ns FROM page_tokens WHERE hash = $1",
			[]any{[]byte(hash)}, &incident, &page, &expires)
		if err != nil {
			return 0, 0, time.Time{}, err
		}
	}
	if !found {
		return 0, 0, time.Time{}, fmt.Errorf("ack link: %w", bot.ErrNotFound)
	}
	return incident, uint64(page), fromNS(expires), nil
}

func (t *tx) AddOverride(o *bot.Override) error {
	if err := t.writable("AddOverride"); err != nil {
		return err
	}
	if _, err := t.exec("forget overrides", "DELETE FROM overrides WHERE end_ns < $1", ns(o.CreatedAt.Add(-7*24*time.Hour))); err != nil {
		return err
	}
	body, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode override: %w", err)
	}
	var id uint64
	if _, err := t.row("add override", "INSERT INTO overrides (end_ns, body) VALUES ($1, $2) RETURNING id",
		[]any{ns(o.End), body}, &id); err != nil {
		return err
	}
	o.ID = id
	return nil
}

func (t *tx) Overrides() ([]bot.Override, error) {
	return bodies(t, "override", "SELECT id, body FROM overrides ORDER BY id", nil, func(o *bot.Override, id int64) { o.ID = uint64(id) })
}
