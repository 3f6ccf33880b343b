package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// amMessage is the part of Alertmanager's webhook message the test reads.
type amMessage struct {
	Version  string `json:"version"`
	GroupKey string `json:"groupKey"`
	Status   string `json:"status"`
	Receiver string `json:"receiver"`
	Alerts   []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      time.Time         `json:"endsAt"`
		Fingerprint string            `json:"fingerprint"`
	} `json:"alerts"`
}

func TestBodyIsAlertmanagers(t *testing.T) {
	now := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	m := &Mix{UpdateRatio: 1, Now: func() time.Time { return now }}
	first := m.Prime(1)[0]
	var msg amMessage
	if err := json.Unmarshal(first, &msg); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, first)
	}
	if msg.Version != "4" || msg.Receiver != `team\.ops` || msg.Status != "firing" || len(msg.Alerts) != 5 || !strings.Contains(msg.GroupKey, "svc-000001") {
		t.Errorf("message: %+v", msg)
	}
	if per := len(first) / 5; per < 550 || per > 900 {
		t.Errorf("%d bytes for 5 alerts: want about 600-800 an alert", len(first))
	}
	seen := map[string]bool{}
	for _, a := range msg.Alerts {
		if seen[a.Fingerprint] || len(a.Fingerprint) != 16 || a.Status != "firing" || !a.StartsAt.Equal(now) || !a.EndsAt.IsZero() && a.EndsAt.Year() != 1 {
			t.Errorf("alert %+v", a)
		}
		seen[a.Fingerprint] = true
	}
	// An update resolves an alert (or fires it again), later than before.
	b, kind := m.Next(nil)
	var upd amMessage
	if err := json.Unmarshal(b, &upd); err != nil || kind != Update {
		t.Fatalf("update: %v %v", kind, err)
	}
	resolved := 0
	for _, a := range upd.Alerts {
		if a.Status == "resolved" {
			resolved++
			if !a.EndsAt.After(a.StartsAt) {
				t.Errorf("resolved alert ends %v, not after its start %v", a.EndsAt, a.StartsAt)
			}
		}
	}
	if resolved != 1 {
		t.Errorf("%d alerts resolved by one update, want 1", resolved)
	}
}

func TestOpenCountsEveryRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(30 * time.Millisecond)
	}))
	defer srv.Close()
	r := Open(context.Background(), Target{URL: srv.URL}, &Mix{}, 100, 500*time.Millisecond, 2)
	if r.Sent+r.Dropped != 50 || r.OK != r.Sent {
		t.Errorf("sent %d + dropped %d, want 50 in all; %d answered 200 of %d", r.Sent, r.Dropped, r.OK, r.Sent)
	}
}

func TestClosedCountsStatuses(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if n.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	r := Closed(context.Background(), Target{URL: srv.URL, Token: "tok"}, &Mix{NewRatio: 0.5}, 2, 200*time.Millisecond)
	if r.Sent == 0 || r.OK+r.Status[503] != r.Sent || r.Status[401] != 0 || int64(r.Sent) != n.Load() {
		t.Errorf("sent %d: %d ok, statuses %v; the server saw %d", r.Sent, r.OK, r.Status, n.Load())
	}
	if r.Kinds[New] == 0 || len(r.Latencies) != r.Sent {
		t.Errorf("kinds %v, %d latencies for %d requests", r.Kinds, len(r.Latencies), r.Sent)
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "http://[::1]:1"} {
		if err := CheckLoopback(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"http://example.com", "http://10.0.0.1:80", "https://127.0.0.1", "http://localhost:80"} {
		if CheckLoopback(u) == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

// TestResolveEndsTheOldestGroup checks that a resolve resolves every alert
// of the oldest open group, which then gets no more notifications, and
// that the last open group is never resolved.
func TestResolveEndsTheOldestGroup(t *testing.T) {
	m := &Mix{ResolveRatio: 1}
	m.Prime(3)
	for want := 1; want <= 2; want++ {
		b, kind := m.Next(nil)
		var msg amMessage
		if err := json.Unmarshal(b, &msg); err != nil || kind != Resolve {
			t.Fatalf("resolve %d: kind %v, %v", want, kind, err)
		}
		if msg.Status != "resolved" || !strings.Contains(msg.GroupKey, fmt.Sprintf("svc-%06d", want)) {
			t.Errorf("resolve %d: status %s, group %s", want, msg.Status, msg.GroupKey)
		}
		for _, a := range msg.Alerts {
			if a.Status != "resolved" || !a.EndsAt.After(a.StartsAt) {
				t.Errorf("resolve %d: alert %s %s ends %v", want, a.Fingerprint, a.Status, a.EndsAt)
			}
		}
	}
	if m.Open() != 1 || m.Groups() != 3 {
		t.Errorf("%d open of %d made, want 1 of 3", m.Open(), m.Groups())
	}
	for range 10 {
		b, kind := m.Next(nil)
		if kind == Resolve || !strings.Contains(string(b), "svc-000003") {
			t.Fatalf("with one group open: %v to %.120s", kind, b)
		}
	}
}
