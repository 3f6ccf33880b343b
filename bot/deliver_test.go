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

func TestWorkerDeliversInOrderPerIncident(t *testing.T) {
	h := newHarness(t, WorkerOptions{Concurrency: 2})
	a, b := h.incident("a"), h.incident("b")
	h.enqueue(
		Delivery{IncidentID: a, Kind: DeliveryOpen},
		Delivery{IncidentID: b, Kind: DeliveryOpen},
		Delivery{IncidentID: a, Kind: DeliveryPost, Text: "a1"},
		Delivery{IncidentID: b, Kind: DeliveryPost, Text: "b1"},
		Delivery{IncidentID: a, Kind: DeliveryPost, Text: "a2"},
	)
	h.start()
	eventually(t, "an empty outbox", func() bool { return len(h.pending()) == 0 })
	calls := h.chat.Calls()
	if got, want := kindsOf(calls, a), []string{"open:", "post:a1", "post:a2"}; !slices.Equal(got, want) {
		t.Errorf("incident a: got %q, want %q", got, want)
	}
	if got, want := kindsOf(calls, b), []string{"open:", "post:b1"}; !slices.Equal(got, want) {
		t.Errorf("incident b: got %q, want %q", got, want)
	}
}

func TestWorkerBlockedIncidentDoesNotBlockOthers(t *testing.T) {
	h := newHarness(t, WorkerOptions{})
	a, b := h.incident("a"), h.incident("b")
	h.chat.fn = func(_ context.Context, inc *Incident, _ ChatRecord, d Delivery) (ChatResult, error) {
		if inc.ID == a {
			return ChatResult{}, &RetryAfterError{After: time.Minute}
		}
		return ChatResult{}, nil
	}
	h.enqueue(
		Delivery{IncidentID: a, Kind: DeliveryPost, Text: "a1"},
		Delivery{IncidentID: a, Kind: DeliveryPost, Text: "a2"},
		Delivery{IncidentID: b, Kind: DeliveryPost, Text: "b1"},
		Delivery{IncidentID: b, Kind: DeliveryPost, Text: "b2"},
	)
	h.start()
	eventually(t, "b delivered", func() bool { return len(h.pending()) == 2 })
	quiet()
	p := h.pending()
	if len(p) != 2 || p[0].Text != "a1" || p[1].Text != "a2" {
		t.Fatalf("pending: got %+v, want a1 and a2", p)
	}
	if want := h.clock.Now().Add(time.Minute); !p[0].NotBefore.Equal(want) || p[0].Attempts != 0 {
		t.Errorf("a1: not before %v attempts %d, want %v and 0 (a rate limit is no failure)", p[0].NotBefore, p[0].Attempts, want)
	}
	if !p[1].NotBefore.IsZero() {
		t.Errorf("a2 was tried before a1")
	}
	if got := kindsOf(h.chat.Calls(), a); !slices.Equal(got, []string{"post:a1"}) {
		t.Errorf("calls for a: got %q, want only a1, once", got)
	}
}

func TestWorkerCoalescesRefreshes(t *testing.T) {
	h := newHarness(t, WorkerOptions{})
	a := h.incident("a")
	h.enqueue(
		Delivery{IncidentID: a, Kind: DeliveryRefresh},
		Delivery{IncidentID: a, Kind: DeliveryRefresh},
		Delivery{IncidentID: a, Kind: DeliveryRefresh},
		Delivery{IncidentID: a, Kind: DeliveryPost, Text: "p"},
		Delivery{IncidentID: a, Kind: DeliveryRefresh},
	)
	h.start()
	eventually(t, "an empty outbox", func() bool { return len(h.pending()) == 0 })
	calls := h.chat.Calls()
	if got, want := kindsOf(calls, a), []string{"refresh:", "post:p", "refresh:"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if calls[0].Delivery != 1 || calls[2].Delivery != 5 {
		t.Errorf("delivered %d and %d, want the first of each run (1 and 5)", calls[0].Delivery, calls[2].Delivery)
	}
}

func TestWorkerWaitsOutRetryAfter(t *testing.T) {
	h := newHarness(t, WorkerOptions{})
	a := h.incident("a")
	var once sync.Once
	h.chat.fn = func(context.Context, *Incident, ChatRecord, Delivery) (res ChatResult, err error) {
		once.Do(func() { err = &RetryAfterError{After: 30 * time.Second} })
		return res, err
	}
	h.enqueue(Delivery{IncidentID: a, Kind: DeliveryPost, Text: "p"})
	h.start()
	eventually(t, "the rate limit recorded", func() bool {
		p := h.pending()
		return len(p) == 1 && !p[0].NotBefore.IsZero()
	})
	if p := h.pending()[0]; !strings.Contains(p.LastError, "rate limited") {
		t.Errorf("last error: got %q", p.LastError)
	}
	h.advance(29 * time.Second)
	quiet()
	if n := len(h.chat.Calls()); n != 1 {
		t.Fatalf("called %d times before Retry-After passed, want 1", n)
	}
	h.advance(time.Second)
	eventually(t, "an empty outbox", func() bool { return len(h.pending()) == 0 })
	if n := len(h.chat.Calls()); n != 2 {
		t.Errorf("called %d times, want 2", n)
	}
}

func TestWorkerBacksOffTransientErrors(t *testing.T) {
	h := newHarness(t, WorkerOptions{BackoffMin: 2 * time.Second, BackoffMax: 5 * time.Second})
	a := h.incident("a")
	var mu sync.Mutex
	fails := 4
	h.chat.fn = func(context.Context, *Incident, ChatRecord, Delivery) (ChatResult, error) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return ChatResult{}, errors.New("slack server error: 500 Internal Server Error")
		}
		return ChatResult{}, nil
	}
	h.enqueue(Delivery{IncidentID: a, Kind: DeliveryPost, Text: "p"})
	h.start()
	// Jitter 0 waits half of 2s, 4s, then the 5s cap.
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 2500 * time.Millisecond, 2500 * time.Millisecond} {
		eventually(t, fmt.Sprintf("attempt %d recorded", i+1), func() bool {
			p := h.pending()
			return len(p) == 1 && p[0].Attempts == i+1
		})
		if got := h.pending()[0].NotBefore.Sub(h.clock.Now()); got != want {
			t.Errorf("attempt %d: back-off %v, want %v", i+1, got, want)
		}
		h.advance(want)
	}
	eventually(t, "an empty outbox", func() bool { return len(h.pending()) == 0 })
	if n := len(h.chat.Calls()); n != 5 {
		t.Errorf("called %d times, want 5", n)
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		attempt int
		r       float64
		want    time.Duration
	}{
		{"first, no jitter", 1, 0, time.Second},
		{"first, most jitter", 1, 0.999, 1999 * time.Millisecond},
		{"third", 3, 0.5, 6 * time.Second},
		{"capped", 12, 0, 150 * time.Second},
		{"huge attempt stays capped", 500, 0, 150 * time.Second},
		{"zero attempt", 0, 0, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := backoff(tc.attempt, 2*time.Second, 5*time.Minute, tc.r).Round(time.Millisecond)
			if got != tc.want {
				t.Errorf("backoff(%d, r=%v): got %v, want %v", tc.attempt, tc.r, got, tc.want)
			}
		})
	}
}

func TestWorkerGivesUpOnPermanentError(t *testing.T) {
	h := newHarness(t, WorkerOptions{})
	a := h.incident("a")
	h.chat.fn = func(_ context.Context, _ *Incident, _ ChatRecord, d Delivery) (ChatResult, error) {
		if d.Text == "bad" {
			return ChatResult{}, fmt.Errorf("%w: channel_not_found", ErrNotFound)
		}
		return ChatResult{}, nil
	}
	h.enqueue(Delivery{IncidentID: a, Kind: DeliveryPost, Text: "bad"}, Delivery{IncidentID: a, Kind: DeliveryPost, Text: "good"})
	h.start()
	eventually(t, "an empty outbox", func() bool { return len(h.pending()) == 0 })
	if got := kindsOf(h.chat.Calls(), a); !slices.Equal(got, []string{"post:bad", "post:good"}) {
		t.Errorf("calls: got %q", got)
	}
	tl := h.timeline(a)
	if len(tl) != 1 || tl[0].Kind != KindDeliveryFailed || tl[0].Actor != ActorBot ||
		tl[0].Text != "could not post an update to the channel: not found: channel_not_found" {
		t.Errorf("timeline: got %+v, want one delivery_failed entry", tl)
	}
}

func TestWorkerGivesUpAfterLongTransientFailure(t *testing.T) {
	h := newHarness(t, WorkerOptions{GiveUpAfter: time.Minute, BackoffMin: 20 * time.Second, BackoffMax: 20 * time.Second})
	a := h.incident("a")
	h.chat.fn = func(context.Context, *Incident, ChatRecord, Delivery) (ChatResult, error) {
		return ChatResult{}, errors.New("connection refused")
	}
	h.enqueue(Delivery{IncidentID: a, Kind: DeliveryRefresh})
	h.start()
	eventually(t, "giving up", func() bool {
		h.advance(10 * time.Second)
		return len(h.pending()) == 0
	})
	tl := h.timeline(a)
	if len(tl) != 1 || !strings.HasPrefix(tl[0].Text, "could not update the incident message: gave up after") {
		t.Errorf("timeline: got %+v", tl)
	}
}

// stepChat opens a channel in three steps (channel, message, complete) and
// fails the message step once, as a restart in the middle would look.
func stepChat(failMessage *bool) func(context.Context, *Incident, ChatRecord, Delivery) (ChatResult, error) {
	return func(_ context.Context, inc *Incident, rec ChatRecord, d Delivery) (ChatResult, error) {
		switch {
		case rec.Room == "":
			return ChatResult{More: true, Record: &ChatRecord{Room: "C1", RoomName: "inc-1-a"}}, nil
		case len(rec.Data) == 0 && *failMessage:
			*failMessage = false
			return ChatResult{}, errors.New("timeout")
		case len(rec.Data) == 0:
			rec.Data = []byte("message 1.1 h1")
			return ChatResult{More: true, Record: &rec, Invited: []string{"<@U1>"}}, nil
		}
		return ChatResult{}, nil
	}
}

func TestWorkerResumesMultiStepDelivery(t *testing.T) {
	h := newHarness(t, WorkerOptions{})
	a := h.incident("a")
	fail := true
	h.chat.fn = stepChat(&fail)
	h.enqueue(Delivery{IncidentID: a, Kind: DeliveryOpen})
	h.start()
	eventually(t, "the failed step recorded", func() bool {
		p := h.pending()
		return len(p) == 1 && p[0].Attempts == 1
	})
	if rec := h.rec(a); rec.Room != "C1" || len(rec.Data) != 0 {
		t.Fatalf("after step 1: channel %q data %q, want the channel recorded", rec.Room, rec.Data)
	}
	h.advance(time.Hour)
	eventually(t, "an empty outbox", func() bool { return len(h.pending()) == 0 })
	calls := h.chat.Calls()
	if len(calls) != 4 || calls[3].Rec.Room != "C1" || string(calls[3].Rec.Data) != "message 1.1 h1" {
		t.Errorf("calls: got %d, the last with %+v", len(calls), calls[len(calls)-1].Rec)
	}
	var kinds []Kind
	for _, e := range h.timeline(a) {
		kinds = append(kinds, e.Kind)
	}
	if want := []Kind{KindChannelCreated, KindRespondersInvited}; !slices.Equal(kinds, want) {
		t.Errorf("timeline kinds: got %v, want %v", kinds, want)
	}
}

// TestWorkerLongQueueDoesNotHideOthers: incident a has more deliveries
// queued than one page of the outbox holds, and Slack holds them back; b's
// one delivery, queued after them all, still goes out at once.
func TestWorkerLongQueueDoesNotHideOthers(t *testing.T) {
	h := newHarness(t, WorkerOptions{Batch: 10})
	a, b := h.incident("a"), h.incident("b")
	h.chat.fn = func(_ context.Context, inc *Incident, _ ChatRecord, d Delivery) (ChatResult, error) {
		if inc.ID == a {
			return ChatResult{}, &RetryAfterError{After: time.Hour}
		}
		return ChatResult{}, nil
	}
	var queued []Delivery
	for i := range 35 {
		queued = append(queued, Delivery{IncidentID: a, Kind: DeliveryPost, Text: fmt.Sprint("a", i)})
	}
	h.enqueue(append(queued, Delivery{IncidentID: b, Kind: DeliveryPost, Text: "b1"})...)
	h.start()
	eventually(t, "b delivered", func() bool { return len(h.pending()) == 35 })
	if got := kindsOf(h.chat.Calls(), b); !slices.Equal(got, []string{"post:b1"}) {
		t.Errorf("calls for b: got %q, want b1", got)
	}
}
