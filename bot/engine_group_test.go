package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// A storm: 30 incidents for the same team open 230 ms apart. The on-call
// person gets the first page at once, then one message per method per
// group window listing the incidents that fell due meanwhile, not one per
// incident; every page is in exactly one message; the message's
// Acknowledge (ack link, DM button) acknowledges each incident it lists.
func TestStormPagesAreGrouped(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{PublicURL: "https://bot.example.com"})
	ctx := context.Background()
	var ids []int64
	for i := range 30 {
		if i > 0 {
			h.clock.Advance(230 * time.Millisecond)
		}
		a := firing(fmt.Sprint("f", i), 0)
		a.StartsAt = h.clock.Now().Add(-time.Minute)
		res, err := h.svc.Ingest(ctx, &Notification{Receiver: "r", GroupKey: fmt.Sprint("g", i), Status: AlertFiring, Alerts: []Alert{a}})
		if err != nil || !res.Opened {
			t.Fatalf("ingest %d: %+v %v", i, res, err)
		}
		ids = append(ids, res.Incident)
		h.run()
		if i == 0 && (h.slack.messages() != 1 || h.email.messages() != 1) {
			t.Fatalf("the first page waited: %d DMs, %d emails", h.slack.messages(), h.email.messages())
		}
	}
	h.advance(5 * time.Second)
	h.advance(5 * time.Second)
	want := slices.Repeat([]string{"UA@0"}, 30)
	same(t, "slack pages", h.slack.got(), want)
	same(t, "email pages", h.email.got(), want)
	// 30 incidents over 6.67 s with a 5 s window: at 0 s, at 5 s (the 21
	// that fell due meanwhile), at 10 s (the last 8).
	if n, m := h.slack.messages(), h.email.messages(); n != 3 || m != 3 {
		t.Errorf("%d DMs and %d emails to UA for 30 incidents, want 3 each", n, m)
	}
	seen := map[int64]int{}
	for _, m := range h.slack.sent {
		for _, it := range m.Items() {
			seen[it.Incident.ID]++
		}
		if m.Incidents() != len(m.Also)+1 {
			t.Errorf("a message counts %d incidents for %d pages", m.Incidents(), len(m.Also)+1)
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("INC-%d is in %d DMs, want 1", id, seen[id])
		}
	}
	for _, p := range h.pages(ids[10]) {
		if p.Status != PageSent || p.Attempts != 1 {
			t.Errorf("page %+v: want sent at the first attempt", p)
		}
	}

	// The second email's ack link acknowledges its 21 incidents, and
	// only those; the second DM's button then finds them acknowledged.
	m := h.email.sent[1]
	if len(m.Also) != 20 || m.AckURL == "" || m.Page.Group == nil {
		t.Fatalf("second email: %d more pages, ack %q, group %v", len(m.Also), m.AckURL, m.Page.Group)
	}
	incs, p, err := h.svc.AckAllByToken(ctx, strings.TrimPrefix(m.AckURL, "https://bot.example.com/page/ack/"))
	if err != nil || len(incs) != 21 || p.ID != m.Page.ID {
		t.Fatalf("AckAllByToken: %d incidents, %v", len(incs), err)
	}
	for _, id := range ids {
		inc, err := h.svc.Incident(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if listed := seen[id] == 1 && slices.ContainsFunc(m.Items(), func(it PageItem) bool { return it.Incident.ID == id }); listed != (inc.AcknowledgedAt != nil) {
			t.Errorf("INC-%d: in the message %v, acknowledged %v", id, listed, inc.AcknowledgedAt != nil)
		} else if listed && inc.AcknowledgedBy != "UA" {
			t.Errorf("INC-%d acknowledged by %q, want UA", id, inc.AcknowledgedBy)
		}
	}
	dm := h.slack.sent[1]
	if _, err := h.svc.AckPageAll(ctx, dm.Incident.ID, dm.Page.ID, "<@UA>"); err == nil {
		t.Errorf("the DM's button after the link: no error, want a conflict (all acknowledged)")
	}
	dm = h.slack.sent[2]
	if incs, err := h.svc.AckPageAll(ctx, dm.Incident.ID, dm.Page.ID, "<@UA>"); err != nil || len(incs) != 8 {
		t.Errorf("the third DM's button: %d incidents, %v; want 8 (group %v, also %d)", len(incs), err, dm.Page.Group, len(dm.Also))
	}
}

// Grouping can be turned off: one message per page.
func TestGroupWindowOff(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{GroupWindow: -1})
	ctx := context.Background()
	for i := range 3 {
		a := firing(fmt.Sprint("f", i), 0)
		a.StartsAt = h.clock.Now().Add(-time.Minute)
		if _, err := h.svc.Ingest(ctx, &Notification{Receiver: "r", GroupKey: fmt.Sprint("g", i), Status: AlertFiring, Alerts: []Alert{a}}); err != nil {
			t.Fatal(err)
		}
		h.run()
	}
	if n := h.slack.messages(); n != 3 {
		t.Errorf("%d DMs, want 3", n)
	}
}

// A grouped message that went out but reported an error (an SMTP timeout
// after DATA) is retried; pages falling due meanwhile may go with the
// retry, but the first message's ack link still acknowledges only the
// incidents it listed.
func TestRetriedGroupAckStaysWithItsMessage(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{PublicURL: "https://bot.example.com"})
	ctx := context.Background()
	open := func(i int) int64 {
		a := firing(fmt.Sprint("f", i), 0)
		a.StartsAt = h.clock.Now().Add(-time.Minute)
		res, err := h.svc.Ingest(ctx, &Notification{Receiver: "r", GroupKey: fmt.Sprint("g", i), Status: AlertFiring, Alerts: []Alert{a}})
		if err != nil || !res.Opened {
			t.Fatalf("ingest %d: %+v %v", i, res, err)
		}
		h.run()
		h.clock.Advance(100 * time.Millisecond)
		return res.Incident
	}
	open(0) // pages at once, opening the group window
	var abc, de []int64
	for i := 1; i <= 3; i++ {
		abc = append(abc, open(i))
	}
	h.email.mu.Lock()
	h.email.fail = []error{errors.New("smtp: timeout after DATA")}
	h.email.mu.Unlock()
	h.advance(5 * time.Second)
	if len(h.email.tried) != 2 || len(h.email.tried[1].Also) != 2 || h.email.tried[1].AckURL == "" {
		t.Fatalf("emails tried %d, want the second listing A, B, C with an ack link", len(h.email.tried))
	}
	first := h.email.tried[1]
	for i := 4; i <= 5; i++ {
		de = append(de, open(i))
	}
	for range 4 {
		h.advance(5 * time.Second)
	}
	if len(h.email.sent) < 2 {
		t.Fatalf("%d emails sent, want the retry too", len(h.email.sent))
	}
	// Every page went out.
	for _, id := range append(abc, de...) {
		for _, p := range h.pages(id) {
			if p.Status != PageSent {
				t.Errorf("INC-%d page %d via %s: %s, want sent", id, p.ID, p.Via, p.Status)
			}
		}
	}
	incs, _, err := h.svc.AckAllByToken(ctx, strings.TrimPrefix(first.AckURL, "https://bot.example.com/page/ack/"))
	if err != nil || len(incs) != 3 {
		t.Errorf("the failed email's link acknowledged %d incidents (%v), want A, B, C", len(incs), err)
	}
	for _, id := range de {
		inc, err := h.svc.Incident(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if inc.AcknowledgedAt != nil {
			t.Errorf("INC-%d, not in the failed email, acknowledged by its link", id)
		}
	}
	for _, id := range abc {
		if inc, err := h.svc.Incident(ctx, id); err != nil || inc.AcknowledgedAt == nil {
			t.Errorf("INC-%d, in the failed email, not acknowledged by its link (%v)", id, err)
		}
	}
}
