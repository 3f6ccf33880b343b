package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWorkerOnChannel(t *testing.T) {
	type seen struct {
		id      int64
		channel string
		created time.Time
		at      time.Time
	}
	var mu sync.Mutex
	var got []seen
	var logs logBuffer
	h := newHarness(t, WorkerOptions{
		Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		OnChannel: func(inc *Incident, rec ChatRecord, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, seen{inc.ID, rec.Room, inc.CreatedAt, at})
		},
	})
	id := h.incident("a")
	created := h.clock.Now()
	h.advance(90 * time.Second)
	// Open creates the channel, then posts; the refresh finds the same
	// channel again, which is not a new one.
	h.chat.fn = func(_ context.Context, inc *Incident, rec ChatRecord, d Delivery) (ChatResult, error) {
		switch {
		case d.Kind == DeliveryOpen && rec.Room == "":
			return ChatResult{More: true, Record: &ChatRecord{Room: "C1", RoomName: "inc-1-a"}}, nil
		case d.Kind == DeliveryOpen:
			rec.Data = []byte("1.1")
			return ChatResult{Record: &rec}, nil
		}
		return ChatResult{Record: &ChatRecord{Room: "C1", RoomName: "inc-1-a"}}, nil
	}
	h.enqueue(Delivery{IncidentID: id, Kind: DeliveryOpen}, Delivery{IncidentID: id, Kind: DeliveryPost, Text: "x"})
	h.start()
	eventually(t, "an empty outbox", func() bool { return len(h.pending()) == 0 })
	h.stop()
	mu.Lock()
	defer mu.Unlock()
	want := []seen{{id, "C1", created, created.Add(90 * time.Second)}}
	if len(got) != 1 || got[0] != want[0] {
		t.Fatalf("OnChannel got %+v, want %+v", got, want)
	}
	line := findLog(t, logs.String(), "delivery worker: channel recorded")
	if line["incident"] != float64(id) || line["channel_id"] != "C1" || line["since_created"] != float64(90*time.Second) {
		t.Errorf("log line %v, want incident %d, channel_id C1, since_created 90s", line, id)
	}
}

func TestServiceLogsIncidentAndRequest(t *testing.T) {
	var own, req logBuffer
	now := at(60)
	svc := NewService(newMemStore(), Options{Now: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(&own, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	reqCtx := WithLogger(context.Background(), slog.New(slog.NewJSONHandler(&req, nil)).With("request_id", "r1"))

	n := &Notification{Receiver: "team", GroupKey: "g", Status: AlertFiring, Alerts: []Alert{firing("a1", 0)}}
	res, err := svc.Ingest(reqCtx, n)
	if err != nil || !res.Opened {
		t.Fatalf("Ingest: %+v, %v", res, err)
	}
	if _, err := svc.Apply(reqCtx, res.Incident, Action{Op: OpAck, Actor: "U1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Declare(context.Background(), "db down", SEV2, "U2", time.Time{}); err != nil {
		t.Fatal(err)
	}

	opened := findLog(t, req.String(), "incident opened")
	changed := findLog(t, req.String(), "incident changed")
	for _, l := range []map[string]any{opened, changed} {
		if l["incident"] != float64(1) || l["request_id"] != "r1" {
			t.Errorf("line %v: want incident 1 and request_id r1", l)
		}
	}
	if c, _ := changed["changes"].([]any); len(c) != 1 || c[0] != string(KindAcknowledged) {
		t.Errorf("changes %v, want [acknowledged]", changed["changes"])
	}
	// Without a request, the service's own logger.
	if l := findLog(t, own.String(), "incident declared"); l["incident"] != float64(2) || l["request_id"] != nil {
		t.Errorf("declared line %v: want incident 2 and no request_id", l)
	}
}

// findLog returns the JSON log line with message msg.
func findLog(t *testing.T, logs, msg string) map[string]any {
	t.Helper()
	for l := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if m["msg"] == msg {
			return m
		}
	}
	t.Fatalf("no log line %q in:\n%s", msg, logs)
	return nil
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *logBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
