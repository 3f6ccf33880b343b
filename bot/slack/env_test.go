package slack_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/slack"
	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// clock is a fake clock shared by the service, the worker, the client's
// rate limits and the fake Slack; it starts at the real time so that
// Slack's channel creation times agree with the incidents'.
type clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	} else {
		c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	}
	return ch
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}

// runbooks is a fixed bot.Runbooks: a runbook matches alerts whose
// alertname is its name.
type runbooks []bot.Runbook

func (r runbooks) Match(alerts []bot.Alert) []bot.Runbook {
	var out []bot.Runbook
	for _, rb := range r {
		for _, a := range alerts {
			if a.Name() == rb.Name {
				out = append(out, rb)
				break
			}
		}
	}
	return out
}

func (r runbooks) Get(name string) (bot.Runbook, bool) {
	for _, rb := range r {
		if rb.Name == name {
			return rb, true
		}
	}
	return bot.Runbook{}, false
}

func (r runbooks) All() []bot.Runbook { return r }

var testRunbooks = runbooks{{Name: "HighErrorRate", Title: "High error rate", Steps: []bot.RunbookStep{
	{N: 1, Text: "Check the dashboard"}, {N: 2, Text: "Find failing pods"}, {N: 3, Text: "Roll back"}}}}

// env is incidentbot's delivery path against a fake Slack: a bbolt store,
// the service, the Slack client and a worker, on one fake clock.
type env struct {
	t        *testing.T
	slack    *slacktesting.Server
	store    *bolt.Store
	svc      *bot.Service
	clock    *clock
	announce string
	opts     slack.Options
	worker   *bot.Worker
	stop     func()
}

func newEnv(t *testing.T, tweak func(*slack.Options)) *env {
	t.Helper()
	e := &env{t: t, slack: slacktesting.New(), clock: &clock{now: time.Now().UTC().Truncate(time.Second)}}
	t.Cleanup(e.slack.Close)
	e.slack.SetNow(e.clock.Now)
	e.announce = e.slack.AddChannel("incidents", false)
	store, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	e.store = store
	e.opts = slack.Options{APIURL: e.slack.APIURL(), Channel: e.announce, Responders: []string{"U100", "U200"},
		PublicURL: "https://incidentbot.example.com", Runbooks: testRunbooks, Limits: &slack.Limits{}, Now: e.clock.Now}
	if tweak != nil {
		tweak(&e.opts)
	}
	e.svc = bot.NewService(store, bot.Options{Chat: true, Now: e.clock.Now, Wake: e.wake})
	return e
}

func (e *env) wake() {
	if w := e.worker; w != nil {
		w.Wake()
	}
}

// start runs a new worker with a new Slack client, as a restarted
// process would.
func (e *env) start() {
	e.worker = bot.NewWorker(e.store, slack.New("xoxb-test", e.opts), bot.WorkerOptions{
		Now: e.clock.Now, After: e.clock.After, Poll: time.Hour, Jitter: func() float64 { return 0 },
		BackoffMin: time.Second, BackoffMax: 8 * time.Second, Concurrency: 3})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	w := e.worker
	go func() { _ = w.Run(ctx); close(done) }()
	e.stop = func() { cancel(); <-done }
	e.t.Cleanup(e.stop)
}

func (e *env) pending() []bot.Delivery {
	var out []bot.Delivery
	e.must(e.store.View(context.Background(), func(tx bot.Tx) (err error) {
		out, err = tx.Pending(0)
		return err
	}))
	return out
}

// settle moves the clock a second at a time until the outbox is empty,
// so that back-offs and Retry-After pass quickly.
func (e *env) settle() {
	e.t.Helper()
	e.until("an empty outbox", func() bool { return len(e.pending()) == 0 })
}

func (e *env) until(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; pending: %+v", what, e.pending())
		}
		e.clock.Advance(time.Second)
		e.wake()
		time.Sleep(2 * time.Millisecond)
	}
}

// eventually waits for cond without moving the clock.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; pending: %+v", what, e.pending())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// incidentView is an incident with the Slack adapter's state of it.
type incidentView struct {
	*bot.Incident
	slack.State
}

func (e *env) incident(id int64) *incidentView {
	inc, err := e.svc.Incident(context.Background(), id)
	e.must(err)
	rec, err := e.svc.ChatRecord(context.Background(), id, slack.Adapter)
	e.must(err)
	st, err := slack.StateOf(rec)
	e.must(err)
	return &incidentView{inc, st}
}

func (e *env) timeline(id int64) []bot.TimelineEntry {
	tl, err := e.svc.Timeline(context.Background(), id)
	e.must(err)
	return tl
}

// entries returns the texts of the incident's entries of one kind.
func (e *env) entries(id int64, kind bot.Kind) []string {
	var out []string
	for _, en := range e.timeline(id) {
		if en.Kind == kind {
			out = append(out, en.Text)
		}
	}
	return out
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// fire sends Alertmanager's notification for one group with n firing
// alerts, and returns the incident it went to.
func (e *env) fire(alertname, service string, n int) int64 {
	e.t.Helper()
	now := e.clock.Now()
	note := &bot.Notification{Receiver: "team", GroupKey: "{}:{service=\"" + service + "\"}", Status: bot.AlertFiring,
		GroupLabels: map[string]string{"alertname": alertname, "service": service}, ExternalURL: "http://am.example.com",
		CommonLabels: map[string]string{"alertname": alertname, "service": service, "severity": "critical"}}
	for i := range n {
		note.Alerts = append(note.Alerts, bot.Alert{Fingerprint: fmt.Sprintf("%x%d", len(service), i), Status: bot.AlertFiring,
			StartsAt: now.Add(-time.Minute), Labels: map[string]string{"alertname": alertname, "service": service,
				"severity": "critical", "pod": fmt.Sprintf("%s-%d", service, i)},
			Annotations: map[string]string{"summary": "error rate over 5%"}})
	}
	res, err := e.svc.Ingest(context.Background(), note)
	e.must(err)
	return res.Incident
}

// messages returns the texts of a channel's messages, oldest first.
// messages returns the texts of a channel's messages, change posts
// without their attribution (" — <@U100> · 14:10 UTC"), which
// TestChangePostSaysWhoAndWhen checks.
func (e *env) messages(channel string) []string {
	var out []string
	for _, m := range e.slack.Messages(channel) {
		text := m.Text
		if strings.HasPrefix(text, "• ") {
			text, _, _ = strings.Cut(text, " — ")
		}
		out = append(out, text)
	}
	return out
}

func count(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}
