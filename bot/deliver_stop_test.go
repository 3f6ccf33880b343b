package bot

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestWorkerStopLetsCallInFlightFinish(t *testing.T) {
	h := newHarness(t, WorkerOptions{})
	a := h.incident("a")
	entered, release := make(chan struct{}), make(chan struct{})
	h.chat.fn = func(ctx context.Context, inc *Incident, _ ChatRecord, d Delivery) (ChatResult, error) {
		close(entered)
		<-release
		return ChatResult{Record: &ChatRecord{Room: "C1", RoomName: "inc-1-a"}}, ctx.Err()
	}
	h.enqueue(Delivery{IncidentID: a, Kind: DeliveryOpen}, Delivery{IncidentID: a, Kind: DeliveryPost, Text: "next"})
	h.start()
	<-entered
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	quiet()
	close(release)
	<-stopped
	if rec := h.rec(a); rec.Room != "C1" {
		t.Errorf("the finished call was not recorded: channel %q", rec.Room)
	}
	p := h.pending()
	if len(p) != 1 || p[0].Text != "next" || p[0].Attempts != 0 {
		t.Errorf("pending: got %+v, want the next post untouched", p)
	}
}

func TestWorkerStopAbandonsCallAfterGrace(t *testing.T) {
	h := newHarness(t, WorkerOptions{Grace: 10 * time.Millisecond})
	a := h.incident("a")
	entered := make(chan struct{})
	h.chat.fn = func(ctx context.Context, inc *Incident, _ ChatRecord, d Delivery) (ChatResult, error) {
		close(entered)
		<-ctx.Done()
		return ChatResult{}, ctx.Err()
	}
	h.enqueue(Delivery{IncidentID: a, Kind: DeliveryOpen})
	h.start()
	<-entered
	h.stop()
	p := h.pending()
	if len(p) != 1 || p[0].Attempts != 0 || p[0].LastError != "" || !p[0].NotBefore.IsZero() {
		t.Errorf("pending: got %+v, want the open untouched, to run again", p)
	}
}

func TestServiceWakesWorker(t *testing.T) {
	h := newHarness(t, WorkerOptions{})
	svc := NewService(h.store, Options{Chat: true, Now: h.clock.Now, Wake: h.w.Wake})
	h.start()
	inc, err := svc.Declare(context.Background(), "checkout is down", SEV2, "<@U1>", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the open delivered without a poll", func() bool { return len(h.pending()) == 0 })
	if got := kindsOf(h.chat.Calls(), inc.ID); len(got) != 1 || got[0] != "open:" {
		t.Errorf("calls: got %q", got)
	}
}

func TestWorkerRendersPostmortemAndRecordsEntries(t *testing.T) {
	h := newHarness(t, WorkerOptions{})
	a := h.incident("checkout is down")
	h.chat.fn = func(_ context.Context, inc *Incident, _ ChatRecord, d Delivery) (ChatResult, error) {
		switch d.Kind {
		case DeliveryPostmortem:
			return ChatResult{File: "inc-1-postmortem.md"}, nil
		case DeliveryPin:
			return ChatResult{Pinned: &PinnedMessage{Author: "<@U2>", Text: "rolling\x00 back\x1b[2J", At: h.clock.Now().Add(-time.Minute)}}, nil
		}
		return ChatResult{Runbook: "db", RunbookSteps: 3}, nil
	}
	h.enqueue(
		Delivery{IncidentID: a, Kind: DeliveryPin, Ref: "1.2", Actor: "<@U1>"},
		Delivery{IncidentID: a, Kind: DeliveryRunbook, Ref: "db", Actor: "<@U1>"},
		Delivery{IncidentID: a, Kind: DeliveryPostmortem, Actor: "<@U3>"},
	)
	h.start()
	eventually(t, "an empty outbox", func() bool { return len(h.pending()) == 0 })
	calls := h.chat.Calls()
	if md := calls[2].Text; !strings.HasPrefix(md, "# Postmortem Report: INC-1 checkout is down") || !strings.Contains(md, "rolling back") {
		t.Errorf("postmortem text: got %.200q", md)
	}
	want := []struct {
		kind  Kind
		actor string
		text  string
	}{
		{KindPinned, "U1", "<@U2>: rolling back[2J"}, // control characters removed
		{KindRunbookPosted, "U1", "runbook db posted (3 steps)"},
		{KindPostmortemExported, "U3", "postmortem draft exported to the channel as inc-1-postmortem.md"},
	}
	tl := h.timeline(a)
	if len(tl) != len(want) {
		t.Fatalf("timeline: got %+v", tl)
	}
	for i, w := range want {
		if tl[i].Kind != w.kind || tl[i].Actor != w.actor || tl[i].Text != w.text {
			t.Errorf("entry %d: got %s %q %q, want %s %q %q", i, tl[i].Kind, tl[i].Actor, tl[i].Text, w.kind, w.actor, w.text)
		}
	}
	if !tl[0].At.Equal(h.clock.Now().Add(-time.Minute)) {
		t.Errorf("pinned entry at %v, want the message's own time", tl[0].At)
	}
}

func TestWorkerRetriesStoreWhenRecording(t *testing.T) {
	h := newHarness(t, WorkerOptions{})
	a := h.incident("a")
	h.chat.fn = func(context.Context, *Incident, ChatRecord, Delivery) (ChatResult, error) {
		h.store.mu <- struct{}{}
		h.store.failUpdates = 2
		<-h.store.mu
		return ChatResult{Record: &ChatRecord{Room: "C1", RoomName: "inc-1-a"}}, nil
	}
	h.enqueue(Delivery{IncidentID: a, Kind: DeliveryOpen})
	h.start()
	eventually(t, "an empty outbox", func() bool { return len(h.pending()) == 0 })
	if n := len(h.chat.Calls()); n != 1 {
		t.Errorf("called %d times, want 1: the result was held while the store recovered", n)
	}
	if rec := h.rec(a); rec.Room != "C1" {
		t.Errorf("channel: got %q", rec.Room)
	}
}

func TestWorkerDropsDeliveryOfMissingIncident(t *testing.T) {
	h := newHarness(t, WorkerOptions{})
	h.enqueue(Delivery{IncidentID: 42, Kind: DeliveryPost, Text: "x"})
	h.start()
	eventually(t, "an empty outbox", func() bool { return len(h.pending()) == 0 })
	if n := len(h.chat.Calls()); n != 0 {
		t.Errorf("called %d times for a missing incident", n)
	}
}

func TestWorkerRunsOnce(t *testing.T) {
	h := newHarness(t, WorkerOptions{})
	h.start()
	eventually(t, "running", h.w.running.Load)
	if err := h.w.Run(context.Background()); err == nil {
		t.Error("a second Run did not fail")
	}
}
