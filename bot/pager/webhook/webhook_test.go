package webhook

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// gateway is an httptest server that checks the signature as a receiver
// would, and answers with status.
func gateway(t *testing.T, secret string, status int, got *[]Body) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !hmac.Equal([]byte(r.Header.Get(SignatureHeader)), []byte(Sign([]byte(secret), body))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Idempotency-Key") == "" {
			http.Error(w, "bad headers", http.StatusBadRequest)
			return
		}
		var b Body
		if err := json.Unmarshal(body, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		*got = append(*got, b)
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func message(url string) bot.PageMessage {
	return bot.PageMessage{
		Incident: &bot.Incident{ID: 7, Title: `Payments "down"`, Severity: bot.SEV1},
		Page:     bot.Page{ID: 3, Team: "payments", Step: 2, Target: "U0ALICE", Via: bot.ViaWebhook, Address: url},
		Text:     "SEV1 INC-7: Payments down", URL: "https://bot.example.com/incidents/7", AckURL: "https://bot.example.com/page/ack/tok",
	}
}

func TestWebhookPageIsSigned(t *testing.T) {
	var got []Body
	srv := gateway(t, "s3cret", http.StatusAccepted, &got)
	if err := New("s3cret", nil).Send(context.Background(), message(srv.URL)); err != nil {
		t.Fatal(err)
	}
	want := Body{Incident: BodyIncident{ID: 7, Title: `Payments "down"`, Severity: "SEV1", URL: "https://bot.example.com/incidents/7"},
		Team: "payments", Step: 2, Target: "U0ALICE", AckURL: "https://bot.example.com/page/ack/tok", Text: "SEV1 INC-7: Payments down", Page: 3}
	want.Pages = []BodyPage{{Incident: want.Incident, Page: 3, Team: "payments", Step: 2, Text: "SEV1 INC-7: Payments down"}}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("gateway got %+v, want %+v", got, want)
	}
	// Signed with another secret: the gateway refuses, and that is final.
	err := New("other", nil).Send(context.Background(), message(srv.URL))
	if !errors.Is(err, bot.ErrInvalid) || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong secret: %v, want a permanent refusal naming 401", err)
	}
}

func TestWebhookPageErrors(t *testing.T) {
	for _, tc := range []struct {
		status    int
		permanent bool
	}{{500, false}, {503, false}, {429, false}, {404, true}, {400, true}} {
		var got []Body
		srv := gateway(t, "k", tc.status, &got)
		err := New("k", nil).Send(context.Background(), message(srv.URL))
		if err == nil || errors.Is(err, bot.ErrInvalid) != tc.permanent {
			t.Errorf("status %d: %v, want permanent=%v", tc.status, err, tc.permanent)
		}
	}
	// Nothing listening: transient.
	if err := New("k", nil).Send(context.Background(), message("http://127.0.0.1:1/")); err == nil || errors.Is(err, bot.ErrInvalid) {
		t.Errorf("connection refused: %v, want a transient error", err)
	}
	// A redirect is not followed: the page and its signature stay where configured.
	redirect := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/elsewhere", http.StatusFound))
	defer redirect.Close()
	if err := New("k", nil).Send(context.Background(), message(redirect.URL)); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("redirect: %v, want a permanent refusal", err)
	}
}

// A gateway URL often is the secret (an ntfy topic, an SMS provider's key
// in the query). A failed page's error goes on the timeline, which is
// posted in the incident channel, into GET .../pages and the log: it names
// the host, never the path or query.
func TestWebhookPageErrorsKeepTheURLSecret(t *testing.T) {
	for _, addr := range []string{"http://127.0.0.1:1/topic-s3cret?key=k3y", "http://[::1/topic-s3cret?key=k3y"} {
		err := New("k", nil).Send(context.Background(), message(addr))
		if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "k3y") {
			t.Errorf("Send(%q) = %v: want an error without the URL's path and query", addr, err)
		}
	}
}

// A 429 is a rate limit, not a failed attempt: the engine is told how long
// to wait (Retry-After, bounded), and caps the total wait itself.
func TestWebhookRateLimited(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{{"7", 7 * time.Second}, {"", 30 * time.Second}, {"86400", 10 * time.Minute}, {"-5", time.Second}, {"soon", 30 * time.Second}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if tc.header != "" {
				w.Header().Set("Retry-After", tc.header)
			}
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		err := New("k", nil).Send(context.Background(), message(srv.URL))
		srv.Close()
		var ra *bot.RetryAfterError
		if !errors.As(err, &ra) || ra.After != tc.want || errors.Is(err, bot.ErrInvalid) {
			t.Errorf("429 with Retry-After %q: %v, want a rate limit of %s", tc.header, err, tc.want)
		}
	}
	if d := retryAfter(time.Date(2026, 12, 2, 6, 1, 0, 0, time.UTC).Format(http.TimeFormat), time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)); d != time.Minute {
		t.Errorf("Retry-After as a date: %s, want 1m", d)
	}
}

// A grouped page (a storm) is one POST carrying every page and incident;
// its text counts them and its ack link acknowledges them all.
func TestWebhookGroupedPage(t *testing.T) {
	var got []Body
	srv := gateway(t, "k", http.StatusOK, &got)
	m := message(srv.URL)
	for i := range 11 {
		inc := &bot.Incident{ID: int64(8 + i), Title: "Disk full", Severity: bot.SEV2}
		m.Also = append(m.Also, bot.PageItem{Incident: inc, Page: bot.Page{ID: uint64(10 + i), IncidentID: inc.ID, Team: "payments", Step: 2}, Text: inc.Key() + " disk"})
	}
	if err := New("k", nil).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Pages) != 12 {
		t.Fatalf("gateway got %d bodies, pages %+v", len(got), got)
	}
	b := got[0]
	if b.Page != 3 || b.Pages[0].Page != 3 || b.Pages[11].Page != 20 || b.Pages[11].Incident.ID != 18 || b.Pages[11].Text != "INC-18 disk" ||
		b.Text != "You are paged for 12 incidents: INC-7, INC-8, INC-9, INC-10, INC-11, INC-12, INC-13, INC-14, INC-15, INC-16 and 2 more" {
		t.Errorf("body = %+v", b)
	}
}
