package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimerKind says what a Timer does when it is due.
type TimerKind string

// The kinds of timer.
const (
	// TimerStep fires the escalation run's next step (firing N).
	TimerStep TimerKind = "step"
	// TimerPage sends (or retries) one page.
	TimerPage TimerKind = "page"
	// TimerHandOff updates a team's chat user group and posts its hand-off
	// note at a shift change (handoff.go).
	TimerHandOff TimerKind = "handoff"
)

// Timer is one piece of due work kept in the store, so that it fires once
// across restarts: the engine claims it in the transaction that does its
// work (or records the attempt), and deletes or moves it there.
type Timer struct {
	ID         uint64    `json:"id"`
	Due        time.Time `json:"due"`
	Kind       TimerKind `json:"kind"`
	IncidentID int64     `json:"incident_id,omitempty"`
	Escalation uint64    `json:"escalation,omitempty"`
	Page       uint64    `json:"page,omitempty"`
	// N is the firing of the escalation run this timer fires; for a
	// hand-off, how many tries failed.
	N int `json:"n,omitempty"`
	// Team is the team of a hand-off; Chain marks the hand-off timer that
	// schedules the team's next one (an override's own hand-offs do not).
	Team  string `json:"team,omitempty"`
	Chain bool   `json:"chain,omitempty"`
	// Ref names what a loop timer works on (a profile target's URL).
	Ref string `json:"ref,omitempty"`
	// Fails counts the times handling this timer failed; each
	// failure moves it later by the engine's back-off, so that timers
	// that keep failing do not hold the head of the due index.
	Fails int `json:"fails,omitempty"`
	// Held marks a page timer that waited for a group window already
	// (EngineOptions.GroupWindow); it does not wait for another.
	Held bool `json:"held,omitempty"`
	// QuietSince is, for a silence check, when Alertmanager first
	// answered that none of the group's alerts fires; a later answer
	// with a firing alert clears it.
	QuietSince *time.Time `json:"quiet_since,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// EscalationRun is one team's policy running for one incident, or a page
// of one person by hand (Team empty, User set: a one-step policy).
type EscalationRun struct {
	ID         uint64    `json:"id"`
	IncidentID int64     `json:"incident_id"`
	Team       string    `json:"team,omitempty"`
	User       string    `json:"user,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	StartedBy  string    `json:"started_by"`
	Message    string    `json:"message,omitempty"`
	// Joined names the alert that started the run when it joined an
	// incident already open (its team was not paged at the open).
	Joined string `json:"joined,omitempty"`
	// AckedAtStart: the incident was acknowledged when the run started (a
	// page by hand), so only an answer to its own pages stops it.
	AckedAtStart bool `json:"acked_at_start,omitempty"`
	// Fired counts the firings done; the next is Fired.
	Fired int `json:"fired"`
	// FiredAt is when each firing happened, by firing number.
	FiredAt   []time.Time `json:"fired_at,omitempty"`
	StoppedAt *time.Time  `json:"stopped_at,omitempty"`
	StoppedBy string      `json:"stopped_by,omitempty"`
	Stopped   string      `json:"stopped,omitempty"`
}

// Name is how the timeline names the run: the team, or the person.
func (r *EscalationRun) Name() string {
	if r.Team != "" {
		return "team " + r.Team
	}
	return "<@" + r.User + ">"
}

// PageStatus is where a page stands.
type PageStatus string

// The statuses of a page.
const (
	PagePending PageStatus = "pending"
	// PageSending means an attempt began; if the service stops before its
	// outcome is recorded, the page is not sent again (see Engine).
	PageSending      PageStatus = "sending"
	PageSent         PageStatus = "sent"
	PageFailed       PageStatus = "failed"
	PageAcknowledged PageStatus = "acknowledged"
	// PageCancelled: the incident was acknowledged or resolved before the
	// page went out.
	PageCancelled PageStatus = "cancelled"
)

// The ways of paging, Page.Via.
const (
	ViaSlack   = "slack"
	ViaEmail   = "email"
	ViaWebhook = "webhook"
)

// Page is one notification of one target by one method for one step.
type Page struct {
	ID         uint64 `json:"id"`
	IncidentID int64  `json:"incident_id"`
	Escalation uint64 `json:"escalation"`
	Team       string `json:"team,omitempty"`
	// N is the firing of the run; Step is the step's number as people
	// count (1, 2, 3), Round the repeat (0 the first time).
	N     int `json:"n"`
	Step  int `json:"step"`
	Round int `json:"round,omitempty"`
	// Target is a user ID, or a channel ID when Channel is true.
	Target  string `json:"target"`
	Channel bool   `json:"channel,omitempty"`
	// Via is ViaSlack, ViaEmail or ViaWebhook; Address the email address
	// or URL (empty for Slack).
	Via       string     `json:"via"`
	Address   string     `json:"address,omitempty"`
	At        time.Time  `json:"at"`
	Status    PageStatus `json:"status"`
	Attempts  int        `json:"attempts"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
	Error     string     `json:"error,omitempty"`
	AckedAt   *time.Time `json:"acked_at,omitempty"`
	Message   string     `json:"message,omitempty"`
	StartedBy string     `json:"started_by,omitempty"`
	// Group lists the other pages sent in the same message as this one
	// (pages to the same target by the same method that fell due within
	// EngineOptions.GroupWindow); only the message's first page has it.
	// Acknowledging that page (DM button, ack link) acknowledges them all.
	Group []PageRef `json:"group,omitempty"`
}

// PageRef names one page of one incident.
type PageRef struct {
	Incident int64  `json:"incident"`
	Page     uint64 `json:"page"`
}

// Key identifies what the page is for: one target, one method, one firing
// of one run of one incident. The store refuses a second page with the
// same key.
func (p *Page) Key() string {
	return strconv.FormatInt(p.IncidentID, 10) + "/" + strconv.FormatUint(p.Escalation, 10) + "/" +
		strconv.Itoa(p.N) + "/" + p.Target + "/" + p.Via
}

// PageMessage is what a Pager sends: the page, its incident, and the text
// and links to put in it.
type PageMessage struct {
	Page     Page
	Incident *Incident
	// Text is one line saying why this person is paged.
	Text string
	// URL links to the incident (its web page or API); AckURL is the ack
	// link, empty for Slack (which has a button) or without a public URL.
	URL, AckURL string
	// AckTTL is how long AckURL works (EngineOptions.TokenTTL), for the
	// message to say so.
	AckTTL time.Duration
	// Also are the other pages of this message, when several pages to
	// the same target by the same method fell due together (a storm):
	// one message lists them all (PageListed of them by name, the rest
	// counted), and its Acknowledge (button, AckURL) acknowledges each.
	Also []PageItem
	// Chat holds the chat adapters' records of the incident, by adapter
	// name, so that a page can link to the incident's room.
	Chat map[string]ChatRecord
}

// PageItem is one more page of a grouped PageMessage.
type PageItem struct {
	Page     Page
	Incident *Incident
	Text     string
	URL      string
	// Chat is PageMessage.Chat, of this incident.
	Chat map[string]ChatRecord
}

// PageListed is how many incidents a grouped page names; the rest are
// counted ("and 12 more").
const PageListed = 10

// Incidents returns how many distinct incidents the message is about.
func (m *PageMessage) Incidents() int {
	seen := map[int64]bool{m.Incident.ID: true}
	for _, it := range m.Also {
		seen[it.Incident.ID] = true
	}
	return len(seen)
}

// Items returns the message's pages, first one first, one per incident.
func (m *PageMessage) Items() []PageItem {
	out := []PageItem{{Page: m.Page, Incident: m.Incident, Text: m.Text, URL: m.URL, Chat: m.Chat}}
	seen := map[int64]bool{m.Incident.ID: true}
	for _, it := range m.Also {
		if !seen[it.Incident.ID] {
			seen[it.Incident.ID] = true
			out = append(out, it)
		}
	}
	return out
}

// Pager sends a page by one method. Each method (Slack DM, email,
// webhook) is its own adapter.
type Pager interface {
	// Via names the method: ViaSlack, ViaEmail or ViaWebhook.
	Via() string
	// Send delivers one page. An error wrapping ErrInvalid, ErrNotFound
	// or ErrConflict is permanent (bad address, unknown user, refused for
	// good): not retried. Any
	// other error is transient and the page is retried with back-off,
	// which is only safe because such an error means the message was not
	// accepted. Send must give up when ctx ends.
	Send(ctx context.Context, m PageMessage) error
}

// pageText is the one line of a page: what, how bad, and why you.
func pageText(inc *Incident, p *Page, run *EscalationRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", inc.Severity, inc.Key(), inc.Title)
	switch {
	case run.Team != "":
		fmt.Fprintf(&b, " (team %s, step %d", run.Team, p.Step)
		if p.Round > 0 {
			fmt.Fprintf(&b, ", repeat %d", p.Round)
		}
		b.WriteString(")")
	default:
		fmt.Fprintf(&b, " (paged by %s)", run.StartedBy)
	}
	if run.Message != "" {
		b.WriteString(": " + run.Message)
	}
	return b.String()
}
