package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePager records what it is asked to send and fails as told.
type fakePager struct {
	via  string
	mu   sync.Mutex
	sent []PageMessage
	// tried has every message Send was called with, failed or not.
	tried []PageMessage
	// fail is returned by the next len(fail) sends, in order.
	fail []error
	// gate, when set, holds every send until it is closed; entered hears
	// of each send that is held.
	gate    chan struct{}
	entered chan struct{}
}

func (p *fakePager) Via() string { return p.via }

func (p *fakePager) Send(_ context.Context, m PageMessage) error {
	if p.gate != nil {
		p.entered <- struct{}{}
		<-p.gate
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tried = append(p.tried, m)
	if len(p.fail) > 0 {
		err := p.fail[0]
		p.fail = p.fail[1:]
		return err
	}
	p.sent = append(p.sent, m)
	return nil
}

// got lists "target@firing" of the pages sent (every page of a grouped
// message), by firing then target (pages of one firing are sent
// concurrently).
func (p *fakePager) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sent []Page
	for _, m := range p.sent {
		sent = append(sent, m.Page)
		for _, it := range m.Also {
			sent = append(sent, it.Page)
		}
	}
	slices.SortStableFunc(sent, func(a, b Page) int {
		if a.N != b.N {
			return a.N - b.N
		}
		return strings.Compare(a.Target, b.Target)
	})
	var out []string
	for _, pg := range sent {
		out = append(out, fmt.Sprintf("%s@%d", pg.Target, pg.N))
	}
	return out
}

// messages counts the messages sent.
func (p *fakePager) messages() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

type oncallHarness struct {
	t            *testing.T
	clock        *fakeClock
	store        *memStore
	svc          *Service
	eng          *Engine
	slack, email *fakePager
	oc           *OnCall
}

func testOnCall() *OnCall {
	start := time.Date(2024, 6, 20, 9, 0, 0, 0, time.UTC)
	return &OnCall{
		People: map[string]Contact{"UA": {Email: "a@example.com"}},
		Teams: []Team{{
			Name:  "payments",
			Match: func(l map[string]string) bool { return l["service"] == "payment-gateway" },
			Schedules: []Rotation{
				{Name: "primary", Zone: time.UTC, Start: start, Shift: 24 * time.Hour, Members: []string{"UA", "UB"}},
				{Name: "secondary", Zone: time.UTC, Start: start, Shift: 24 * time.Hour, Members: []string{"UC"}},
			},
			Escalation: Escalation{Repeat: 1, Steps: []EscalationStep{
				{After: 0, Notify: []Target{{TargetSchedule, "primary"}}},
				{After: 5 * time.Minute, Notify: []Target{{TargetSchedule, "secondary"}, {TargetUser, "UL"}, {TargetChannel, "CPAY"}}},
			}},
		}},
	}
}

func newOnCallHarness(t *testing.T, o EngineOptions) *oncallHarness {
	h := &oncallHarness{t: t, clock: newFakeClock(), store: newMemStore(), oc: testOnCall(),
		slack: &fakePager{via: ViaSlack}, email: &fakePager{via: ViaEmail}}
	h.svc = NewService(h.store, Options{Now: h.clock.Now, OnCall: h.oc})
	o.Now, o.After, o.Pagers = h.clock.Now, h.clock.After, []Pager{h.slack, h.email}
	h.eng = NewEngine(h.svc, o)
	return h
}

// restart is a new engine over the same store, as after kill -9.
func (h *oncallHarness) restart(o EngineOptions) {
	o.Now, o.After, o.Pagers = h.clock.Now, h.clock.After, []Pager{h.slack, h.email}
	h.eng = NewEngine(h.svc, o)
}

// run lets the engine handle what is due and waits for its sends.
func (h *oncallHarness) run() {
	h.t.Helper()
	for range 5 {
		h.eng.tick(context.Background())
		h.eng.wg.Wait()
	}
}

func (h *oncallHarness) advance(d time.Duration) {
	h.clock.Advance(d)
	h.run()
}

func (h *oncallHarness) open() int64 {
	h.t.Helper()
	a := firing("f1", 0)
	a.StartsAt = h.clock.Now().Add(-time.Minute)
	res, err := h.svc.Ingest(context.Background(), &Notification{Receiver: "r", GroupKey: "g", Status: AlertFiring, Alerts: []Alert{a}})
	if err != nil || !res.Opened {
		h.t.Fatalf("ingest: %+v %v", res, err)
	}
	return res.Incident
}

func (h *oncallHarness) texts(id int64, kind Kind) []string {
	h.t.Helper()
	entries, err := h.svc.Timeline(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Kind == kind {
			out = append(out, e.Text)
		}
	}
	return out
}

func (h *oncallHarness) pages(id int64) []Page {
	h.t.Helper()
	ps, err := h.svc.Pages(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return ps
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func TestEngineStepsAtTheirDelays(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{})
	id := h.open()
	h.run()
	// 14:00 on the 20th: UA holds primary (the shift began at 09:00).
	same(t, "slack after step 1", h.slack.got(), []string{"UA@0"})
	same(t, "email after step 1", h.email.got(), []string{"UA@0"})
	h.advance(4*time.Minute + 59*time.Second)
	same(t, "slack before step 2", h.slack.got(), []string{"UA@0"})
	h.advance(time.Second)
	same(t, "slack after step 2", h.slack.got(), []string{"UA@0", "CPAY@1", "UC@1", "UL@1"})
	// The repeat starts 5m after the last step (the gap before it).
	h.advance(5 * time.Minute)
	same(t, "slack at the repeat", h.slack.got(), []string{"UA@0", "CPAY@1", "UC@1", "UL@1", "UA@2"})
	h.advance(5 * time.Minute)
	h.advance(time.Hour)
	same(t, "slack at the end", h.slack.got(), []string{"UA@0", "CPAY@1", "UC@1", "UL@1", "UA@2", "CPAY@3", "UC@3", "UL@3"})
	same(t, "email at the end", h.email.got(), []string{"UA@0", "UA@2"})

	esc := h.texts(id, KindEscalation)
	if len(esc) != 5 || !strings.Contains(esc[0], "escalation of team payments started") ||
		!strings.Contains(esc[1], "step 1: paging <@UA> (on call for primary)") ||
		!strings.Contains(esc[2], "step 2: paging <@UC> (on call for secondary), <@UL>, <#CPAY>") ||
		!strings.Contains(esc[3], "step 1 (repeat 1)") {
		t.Errorf("escalation entries:\n%s", strings.Join(esc, "\n"))
	}
	if paged := h.texts(id, KindPaged); len(paged) != 10 || paged[0] != "paged <@UA> by slack (team payments, step 1)" && paged[0] != "paged <@UA> by email (team payments, step 1)" {
		t.Errorf("paged entries (%d):\n%s", len(paged), strings.Join(paged, "\n"))
	}
	for _, p := range h.pages(id) {
		if p.Status != PageSent || p.Attempts != 1 {
			t.Errorf("page %+v: want sent at the first attempt", p)
		}
	}
	h.store.mu <- struct{}{}
	left := len(h.store.st.oc.timers)
	<-h.store.mu
	if left != 0 {
		t.Errorf("%d timers left after the policy ended", left)
	}
}

func TestEngineStopsOnAckAndResolve(t *testing.T) {
	for _, op := range []Op{OpAck, OpResolve} {
		t.Run(string(op), func(t *testing.T) {
			h := newOnCallHarness(t, EngineOptions{})
			id := h.open()
			h.run()
			h.clock.Advance(2 * time.Minute)
			if _, err := h.svc.Apply(context.Background(), id, Action{Op: op, Actor: "<@UA>"}); err != nil {
				t.Fatal(err)
			}
			h.advance(time.Hour)
			same(t, "slack", h.slack.got(), []string{"UA@0"})
			esc := h.texts(id, KindEscalation)
			want := "escalation of team payments stopped: acknowledged by <@UA> 2m0s after it started, 2m0s after firing 1"
			if op == OpResolve {
				want = strings.Replace(want, "acknowledged", "resolved", 1)
			}
			if len(esc) != 3 || esc[2] != want {
				t.Errorf("escalation entries:\n%s\nwant last %q", strings.Join(esc, "\n"), want)
			}
		})
	}
}

func TestEngineRestartInTheMiddle(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{})
	id := h.open()
	h.run()
	// The service is down from 1m to 20m: step 2 (5m), the repeat of step
	// 1 (10m) and of step 2 (15m) are all due when it is back, and each
	// fires once.
	h.clock.Advance(20 * time.Minute)
	h.restart(EngineOptions{})
	h.run()
	h.restart(EngineOptions{})
	h.run()
	// The firings come out together: the pages of the later ones to the
	// same people wait for the group window, then go in one message each.
	h.advance(5 * time.Second)
	same(t, "slack", h.slack.got(), []string{"UA@0", "CPAY@1", "UC@1", "UL@1", "UA@2", "CPAY@3", "UC@3", "UL@3"})
	if n := len(h.pages(id)); n != 10 {
		t.Errorf("%d pages, want 10", n)
	}
}

func TestEngineDoesNotResendAPageOfUnknownOutcome(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{})
	id := h.open()
	// Step 1 fires and its pages are claimed, then the process "dies"
	// after recording the email attempt but before recording its outcome.
	ctx := context.Background()
	var due []Timer
	h.must(h.store.View(ctx, func(tx Tx) (err error) { due, err = tx.DueTimers(h.clock.Now(), 0); return err }))
	h.must(h.eng.fireStep(ctx, due[0]))
	var email Page
	h.must(h.store.Update(ctx, func(tx Tx) error {
		ps, _ := tx.Pages(id)
		for _, p := range ps {
			if p.Via == ViaEmail {
				p.Status, p.Attempts = PageSending, 1
				email = p
				return tx.SavePage(&p)
			}
		}
		return errors.New("no email page")
	}))
	h.restart(EngineOptions{})
	h.run()
	same(t, "email", h.email.got(), nil)
	same(t, "slack", h.slack.got(), []string{"UA@0"})
	for _, p := range h.pages(id) {
		if p.ID == email.ID && (p.Status != PageFailed || !strings.Contains(p.Error, "outcome unknown")) {
			t.Errorf("email page = %+v, want failed with an unknown outcome", p)
		}
	}
}

func (h *oncallHarness) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

func TestEngineRetriesWithBackoff(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{BackoffMin: 10 * time.Second, MaxAttempts: 3})
	h.email.fail = []error{errors.New("421 try later"), errors.New("connection reset")}
	id := h.open()
	h.run()
	same(t, "email at once", h.email.got(), nil)
	h.advance(9 * time.Second)
	same(t, "email before the back-off", h.email.got(), nil)
	h.advance(time.Second) // 10s: the second attempt fails too
	h.advance(19 * time.Second)
	same(t, "email before the doubled back-off", h.email.got(), nil)
	h.advance(time.Second)
	same(t, "email at the third attempt", h.email.got(), []string{"UA@0"})
	for _, p := range h.pages(id) {
		if p.Via == ViaEmail && (p.Status != PageSent || p.Attempts != 3) {
			t.Errorf("email page = %+v, want sent at attempt 3", p)
		}
	}

	// A permanent refusal is not retried; giving up is on the timeline.
	h2 := newOnCallHarness(t, EngineOptions{})
	h2.email.fail = []error{fmt.Errorf("%w: 550 no such user", ErrInvalid)}
	id2 := h2.open()
	h2.run()
	h2.advance(time.Minute)
	if paged := h2.texts(id2, KindPaged); !slices.ContainsFunc(paged, func(s string) bool {
		return strings.HasPrefix(s, "could not page <@UA> by email (team payments, step 1) after 1 attempts") && strings.Contains(s, "550 no such user")
	}) {
		t.Errorf("paged entries:\n%s", strings.Join(paged, "\n"))
	}
}

func TestPageByHandAndAckLink(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{PublicURL: "https://bot.example.com/", TokenTTL: time.Hour})
	ctx := context.Background()
	inc, err := h.svc.Declare(ctx, "checkout is slow", SEV2, "<@UX>", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// A declared incident matches no team: nobody is paged.
	h.run()
	same(t, "slack after declare", h.slack.got(), nil)
	if _, err := h.svc.Apply(ctx, inc.ID, Action{Op: OpAck, Actor: "<@UX>"}); err != nil {
		t.Fatal(err)
	}
	// Paging one person by hand works on an acknowledged incident.
	if _, err := h.svc.PageTeam(ctx, inc.ID, "", "UA", "please look at the DB", "<@UX>"); err != nil {
		t.Fatal(err)
	}
	h.run()
	same(t, "slack", h.slack.got(), []string{"UA@0"})
	same(t, "email", h.email.got(), []string{"UA@0"})
	m := h.email.sent[0]
	if !strings.HasPrefix(m.AckURL, "https://bot.example.com/page/ack/") || len(m.AckURL) < len("https://bot.example.com/page/ack/")+40 {
		t.Fatalf("ack URL = %q", m.AckURL)
	}
	if h.slack.sent[0].AckURL != "" {
		t.Errorf("the Slack page has an ack link (%q); it has a button", h.slack.sent[0].AckURL)
	}
	if want := "SEV2 INC-1: checkout is slow (paged by <@UX>): please look at the DB"; m.Text != want {
		t.Errorf("text = %q, want %q", m.Text, want)
	}
	token := strings.TrimPrefix(m.AckURL, "https://bot.example.com/page/ack/")
	if _, _, err := h.svc.PageByToken(ctx, token+"x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a wrong token: %v, want ErrNotFound", err)
	}
	if _, p, err := h.svc.AckByToken(ctx, token); err != nil || p.Target != "UA" {
		t.Fatalf("AckByToken: %v %+v", err, p)
	}
	if _, _, err := h.svc.AckByToken(ctx, token); !errors.Is(err, ErrConflict) {
		t.Errorf("the same link twice: %v, want ErrConflict", err)
	}
	esc := h.texts(inc.ID, KindEscalation)
	if len(esc) != 3 || !strings.HasPrefix(esc[2], "escalation of <@UA> stopped: answered by <@UA>") {
		t.Errorf("escalation entries:\n%s", strings.Join(esc, "\n"))
	}
	// A second page by hand, whose link expires unused.
	h.clock.Advance(time.Second)
	if _, err := h.svc.PageTeam(ctx, inc.ID, "payments", "", "", "<@UX>"); err != nil {
		t.Fatal(err)
	}
	h.run()
	same(t, "email within the group window", h.email.got(), []string{"UA@0"})
	h.advance(4 * time.Second) // UA was paged a second ago: the next page waits for the window
	same(t, "email after the group window", h.email.got(), []string{"UA@0", "UA@0"})
	token2 := strings.TrimPrefix(h.email.sent[1].AckURL, "https://bot.example.com/page/ack/")
	h.clock.Advance(time.Hour)
	if _, _, err := h.svc.PageByToken(ctx, token2); !errors.Is(err, ErrNotFound) {
		t.Errorf("an expired token: %v, want ErrNotFound", err)
	}
	for _, tc := range []struct{ team, user string }{{"", ""}, {"nope", ""}, {"payments", "UA"}} {
		if _, err := h.svc.PageTeam(ctx, inc.ID, tc.team, tc.user, "", "<@UX>"); err == nil {
			t.Errorf("PageTeam(%q, %q) succeeded", tc.team, tc.user)
		}
	}
}

func TestOverridesChangeWhoIsPaged(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{})
	ctx := context.Background()
	now := h.clock.Now()
	if _, err := h.svc.AddOverride(ctx, "payments", "", "UZ", now.Add(-time.Minute), now.Add(time.Hour), "<@UZ>"); err != nil {
		t.Fatal(err)
	}
	who, err := h.svc.WhoIsOnCall(ctx, "payments")
	if err != nil || len(who) != 1 || who[0].Schedules[0].OnCall != "UZ" || who[0].Schedules[0].Next != "UA" || !who[0].Schedules[0].Override {
		t.Fatalf("WhoIsOnCall = %+v %v", who, err)
	}
	h.open()
	h.run()
	same(t, "slack", h.slack.got(), []string{"UZ@0"})
	for _, tc := range []struct {
		name, team, sched string
		start, end        time.Time
	}{
		{"unknown team", "nope", "", now, now.Add(time.Hour)},
		{"unknown schedule", "payments", "tertiary", now, now.Add(time.Hour)},
		{"ends before it starts", "payments", "", now, now.Add(-time.Hour)},
		{"already over", "payments", "", now.Add(-2 * time.Hour), now.Add(-time.Hour)},
		{"too long", "payments", "", now, now.Add(40 * 24 * time.Hour)},
	} {
		if _, err := h.svc.AddOverride(ctx, tc.team, tc.sched, "UZ", tc.start, tc.end, "<@UZ>"); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestParsePageValue(t *testing.T) {
	if inc, p, err := ParsePageValue(PageValue(12, 34)); err != nil || inc != 12 || p != 34 {
		t.Errorf("round trip: %d %d %v", inc, p, err)
	}
	for _, v := range []string{"", "12", "12:", ":3", "a:b", "1:2:3", "-1:2", "01:2", "1:2 "} {
		if _, _, err := ParsePageValue(v); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePageValue(%q) = %v, want ErrInvalid", v, err)
		}
	}
}

func TestEngineWaitsOutRateLimits(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{MaxAttempts: 2, BackoffMin: time.Second})
	limited := &RetryAfterError{After: 30 * time.Second}
	h.slack.fail = []error{limited, limited, limited}
	id := h.open()
	h.run()
	h.advance(29 * time.Second)
	same(t, "slack before Retry-After", h.slack.got(), nil)
	h.advance(time.Second)
	h.advance(30 * time.Second)
	h.advance(30 * time.Second)
	// Three rate limits did not use up the two attempts.
	same(t, "slack after three Retry-Afters", h.slack.got(), []string{"UA@0"})
	for _, p := range h.pages(id) {
		if p.Via == ViaSlack && (p.Status != PageSent || p.Attempts != 1) {
			t.Errorf("slack page = %+v, want sent at attempt 1", p)
		}
	}
}

func TestEngineSettlesCutPagesAtStart(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{})
	id := h.open()
	ctx := context.Background()
	var due []Timer
	h.must(h.store.View(ctx, func(tx Tx) (err error) { due, err = tx.DueTimers(h.clock.Now(), 0); return err }))
	h.must(h.eng.fireStep(ctx, due[0]))
	// Begin the email attempt (status sending, timer moved to the lease's
	// end), as a process that then died would have.
	h.must(h.store.View(ctx, func(tx Tx) (err error) { due, err = tx.DueTimers(h.clock.Now(), 0); return err }))
	for _, tm := range due {
		if p, _ := func() (*Page, error) {
			var p *Page
			err := h.store.View(ctx, func(tx Tx) (err error) { p, err = tx.Page(id, tm.Page); return err })
			return p, err
		}(); p != nil && p.Via == ViaEmail {
			h.must(h.store.Update(ctx, func(tx Tx) error {
				p.Status, p.Attempts = PageSending, 1
				tm.Due = h.clock.Now().Add(h.eng.lease())
				if err := tx.SavePage(p); err != nil {
					return err
				}
				return tx.SaveTimer(&tm)
			}))
		}
	}
	h.restart(EngineOptions{})
	h.eng.recover(ctx)
	for _, p := range h.pages(id) {
		if p.Via == ViaEmail && (p.Status != PageFailed || !strings.HasPrefix(p.Error, "outcome unknown")) {
			t.Errorf("email page after a restart = %+v, want settled at once as outcome unknown", p)
		}
	}
	same(t, "email", h.email.got(), nil)
}

// A page that waits for a free send slot has not been attempted: if the
// process dies then, the restarted engine sends it, and only the page
// whose send was under way is given up as "outcome unknown".
func TestEngineSendsQueuedPagesAfterACrash(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{Sends: 1})
	gate := make(chan struct{})
	for _, p := range []*fakePager{h.slack, h.email} {
		p.gate, p.entered = gate, make(chan struct{}, 4)
	}
	id := h.open()
	old := h.eng
	old.tick(context.Background())
	// One of UA's two pages (Slack, email) is being sent; the other waits.
	select {
	case <-h.slack.entered:
	case <-h.email.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no page send began")
	}
	t.Cleanup(func() { close(gate); old.wg.Wait() })

	// kill -9, and a new process with pagers that answer at once.
	h.slack, h.email = &fakePager{via: ViaSlack}, &fakePager{via: ViaEmail}
	h.restart(EngineOptions{Sends: 1})
	h.eng.recover(context.Background())
	h.run()
	sent := append(h.slack.got(), h.email.got()...)
	same(t, "pages sent after the restart", sent, []string{"UA@0"})
	var unknown, ok int
	for _, p := range h.pages(id) {
		switch {
		case p.Status == PageFailed && strings.HasPrefix(p.Error, "outcome unknown"):
			unknown++
		case p.Status == PageSent && p.Attempts == 1:
			ok++
		default:
			t.Errorf("page %+v: want sent once, or the one cut mid-send given up", p)
		}
	}
	if unknown != 1 || ok != 1 {
		t.Errorf("%d pages of unknown outcome and %d sent, want 1 and 1", unknown, ok)
	}
}

// Anyone in the workspace may run /oncall override, and every override
// that has not ended is weighed in each who-is-on-call answer (inside the
// escalation's write transaction) and makes two hand-off notes: their
// number per schedule is bounded.
func TestOverridesAreBounded(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{})
	ctx := context.Background()
	now := h.clock.Now()
	for i := range MaxOpenOverrides {
		if _, err := h.svc.AddOverride(ctx, "payments", "primary", "UZ", now, now.Add(time.Hour+time.Duration(i)*time.Second), "<@UZ>"); err != nil {
			t.Fatalf("override %d: %v", i+1, err)
		}
	}
	if _, err := h.svc.AddOverride(ctx, "payments", "primary", "UZ", now, now.Add(time.Hour), "<@UZ>"); !errors.Is(err, ErrConflict) {
		t.Fatalf("override %d: %v, want ErrConflict", MaxOpenOverrides+1, err)
	}
	// Another schedule has its own bound; once the first ones end, there is room again.
	if _, err := h.svc.AddOverride(ctx, "payments", "secondary", "UZ", now, now.Add(time.Hour), "<@UZ>"); err != nil {
		t.Errorf("secondary: %v", err)
	}
	h.clock.Advance(time.Hour)
	if _, err := h.svc.AddOverride(ctx, "payments", "primary", "UY", h.clock.Now(), h.clock.Now().Add(time.Hour), "<@UY>"); err != nil {
		t.Errorf("after the first ended: %v", err)
	}
}

// An alert that joins an open incident later starts the policy of a team
// it matches that was not paged at the open, once: not again for a
// repeat of the notification, an HA peer's copy, another alert of the
// team, or an alert of a team already running.
func TestLaterAlertStartsItsTeamsPolicyOnce(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{})
	h.oc.Teams = append(h.oc.Teams, Team{Name: "checkout",
		Match:      func(l map[string]string) bool { return l["service"] == "checkout" },
		Schedules:  []Rotation{{Name: "primary", Zone: time.UTC, Start: time.Date(2024, 6, 20, 9, 0, 0, 0, time.UTC), Shift: 24 * time.Hour, Members: []string{"UD"}}},
		Escalation: Escalation{Steps: []EscalationStep{{Notify: []Target{{TargetSchedule, "primary"}}}}},
	})
	id := h.open()
	h.run()
	same(t, "slack after the open", h.slack.got(), []string{"UA@0"})
	ctx := context.Background()
	// Acknowledged before the checkout alert joins: checkout is paged anyway.
	h.clock.Advance(time.Minute)
	if _, err := h.svc.Apply(ctx, id, Action{Op: OpAck, Actor: "<@UA>"}); err != nil {
		t.Fatal(err)
	}
	a := firing("f1", 0)
	a.StartsAt = h.clock.Now().Add(-2 * time.Minute)
	b := firing("f2", 0)
	b.StartsAt, b.Labels = h.clock.Now(), map[string]string{"alertname": "CheckoutErrors", "service": "checkout", "instance": "f2"}
	for i := range 3 { // the notification, its repeat, the HA peer's copy
		if _, err := h.svc.Ingest(ctx, &Notification{Receiver: "r", GroupKey: "g", Status: AlertFiring, Alerts: []Alert{a, b}}); err != nil {
			t.Fatal(i, err)
		}
		h.run()
	}
	// Another checkout alert, and one of payments firing again.
	c := b
	c.Fingerprint, c.Labels = "f3", map[string]string{"alertname": "CheckoutLatency", "service": "checkout", "instance": "f3"}
	a.StartsAt = h.clock.Now()
	if _, err := h.svc.Ingest(ctx, &Notification{Receiver: "r", GroupKey: "g", Status: AlertFiring, Alerts: []Alert{a, b, c}}); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Hour)
	same(t, "slack", h.slack.got(), []string{"UA@0", "UD@0"})
	var started []string
	for _, e := range h.texts(id, KindEscalation) {
		if strings.Contains(e, " started:") {
			started = append(started, e)
		}
	}
	same(t, "starts", started, []string{"escalation of team payments started: its alerts match the team",
		"escalation of team checkout started: a later alert (CheckoutErrors) matches the team"})
}
