package alertmanager_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/alertmanager"
	"github.com/incidentbot/incidentbot/internal/hostallow"
	"github.com/incidentbot/incidentbot/internal/testpeers"
)

// startAlertmanager runs the real Alertmanager pinned as a tool in go.mod
// on a free loopback port and returns its base URL.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the real Alertmanager")
	}
	return testpeers.Alertmanager(t, "route:\n  receiver: none\nreceivers:\n  - name: none\n")
}

func order(d time.Duration) bot.Silence {
	now := time.Now().UTC()
	return bot.Silence{
		Matchers:  []bot.Matcher{{Name: "alertname", Value: "MemoryLeak", IsEqual: true}, {Name: "service", Value: `pay"ment`, IsEqual: true}},
		StartsAt:  now,
		EndsAt:    now.Add(d),
		CreatedBy: "alice",
		Comment:   "INC-7 MemoryLeak (https://bot/api/v1/incidents/7), silenced by incidentbot for alice",
	}
}

func TestSilenceCreateExtendExpireAgainstAlertmanager(t *testing.T) {
	am := startAlertmanager(t)
	dead := "http://" + testpeers.FreeAddr(t) // nothing listens there
	c, err := alertmanager.New(alertmanager.Options{URLs: []string{dead, am}, PeerTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	id, peer, err := c.Silence(ctx, "http://ignored-when-configured:9093", order(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if peer != am {
		t.Errorf("peer = %q, want %q (the first one that answered)", peer, am)
	}
	got, ok := testpeers.Silences(t, am)[id]
	if !ok || got.Status.State != "active" || got.CreatedBy != "alice" || !strings.Contains(got.Comment, "INC-7") {
		t.Fatalf("Alertmanager shows %+v for %s", got, id)
	}
	if len(got.Matchers) != 2 || got.Matchers[1].Value != `pay"ment` || !got.Matchers[1].IsEqual || got.Matchers[1].IsRegex {
		t.Errorf("matchers = %+v", got.Matchers)
	}

	// Extending passes the ID: Alertmanager keeps one active silence.
	longer := order(4 * time.Hour)
	longer.ID = id
	id2, _, err := c.Silence(ctx, "", longer)
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, s := range testpeers.Silences(t, am) {
		if s.Status.State == "active" {
			active++
		}
	}
	if active != 1 {
		t.Errorf("after extending %s (now %s): %d active silences, want 1", id, id2, active)
	}

	if err := c.Expire(ctx, peer, id2); err != nil {
		t.Fatal(err)
	}
	if s := testpeers.Silences(t, am)[id2]; s.Status.State != "expired" {
		t.Errorf("after Expire: state %q, want expired", s.Status.State)
	}
	if err := c.Expire(ctx, peer, id2); err != nil {
		t.Errorf("expiring twice: %v, want nil (idempotent)", err)
	}
	if err := c.Expire(ctx, peer, "00000000-0000-4000-8000-000000000000"); err != nil {
		t.Errorf("expiring an unknown silence: %v, want nil", err)
	}
}

func TestSilenceFallbackAndRefusals(t *testing.T) {
	am := startAlertmanager(t)
	ctx := context.Background()
	none, err := alertmanager.New(alertmanager.Options{Allow: mustAllow(t, "127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	id, peer, err := none.Silence(ctx, am+"/", order(time.Hour))
	if err != nil || peer != am || testpeers.Silences(t, am)[id].Status.State != "active" {
		t.Fatalf("externalURL fallback: %q at %q, %v", id, peer, err)
	}
	if _, _, err := none.Silence(ctx, "", order(time.Hour)); !errors.Is(err, bot.ErrConflict) {
		t.Errorf("no URL at all: %v, want ErrConflict", err)
	}
	if _, _, err := none.Silence(ctx, "file:///etc/passwd", order(time.Hour)); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("a non-HTTP externalURL: %v, want ErrInvalid", err)
	}
	past := order(time.Hour)
	past.StartsAt, past.EndsAt = past.StartsAt.Add(-2*time.Hour), past.StartsAt.Add(-time.Hour)
	if _, _, err := none.Silence(ctx, am, past); !errors.Is(err, bot.ErrInvalid) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("a silence that ended: %v, want ErrInvalid saying Alertmanager refused", err)
	}
}

func TestSilenceUnreachableNamesPeersWithoutSecrets(t *testing.T) {
	a, b := "http://admin:hunter2@"+testpeers.FreeAddr(t), "http://"+testpeers.FreeAddr(t)+"/alertmanager"
	c, err := alertmanager.New(alertmanager.Options{URLs: []string{a, b}, PeerTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Silence(context.Background(), "", order(time.Hour))
	if err == nil {
		t.Fatal("no peer is up, yet the silence was created")
	}
	msg := err.Error()
	if strings.Contains(msg, "hunter2") || !strings.Contains(msg, strings.Replace(a, "admin:hunter2@", "", 1)) || !strings.Contains(msg, b) {
		t.Errorf("error %q must name both peers and never the password", msg)
	}
	if errors.Is(err, bot.ErrInvalid) || errors.Is(err, bot.ErrConflict) {
		t.Errorf("unreachable is not the user's mistake: %v", err)
	}
	if _, err := alertmanager.New(alertmanager.Options{URLs: []string{"am:9093"}}); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("a URL without scheme: %v, want ErrInvalid", err)
	}
}

func mustAllow(t *testing.T, entries ...string) hostallow.List {
	t.Helper()
	l, err := hostallow.Parse(entries)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestExternalURLOnlyOnAllowedHosts gives the client the hostile
// externalURLs a webhook could carry: without INCIDENTBOT_ALERTMANAGER_URL
// it may contact only allow-listed hosts, never by redirect or DNS name
// another one.
func TestExternalURLOnlyOnAllowedHosts(t *testing.T) {
	am := startAlertmanager(t)
	var hits atomic.Int64
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, am+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	amPort := am[strings.LastIndex(am, ":")+1:]
	res := hostallow.Static{"am.internal": {netip.MustParseAddr("127.0.0.1")}, "meta.internal": {netip.MustParseAddr("169.254.169.254")}}
	ctx := context.Background()
	for _, tc := range []struct {
		name, external string
		allow          []string
		ok             bool
	}{
		{name: "no allow-list: the externalURL is not used", external: am},
		{name: "metadata address under a catch-all network", external: "http://169.254.169.254", allow: []string{"0.0.0.0/0"}},
		{name: "unlisted name resolving to loopback", external: "http://evil.example:" + amPort, allow: []string{"am.internal"}},
		{name: "listed name resolving to loopback", external: "http://am.internal:" + amPort, allow: []string{"am.internal"}},
		{name: "listed name resolving to metadata", external: "http://meta.internal:" + amPort, allow: []string{"meta.internal"}},
		{name: "redirect to another host", external: redirect.URL, allow: []string{"127.0.0.1"}},
		{name: "listed name, loopback listed", external: "http://am.internal:" + amPort, allow: []string{"am.internal", "127.0.0.0/8"}, ok: true},
	} {
		c, err := alertmanager.New(alertmanager.Options{Allow: mustAllow(t, tc.allow...), Resolver: res, PeerTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		before := len(testpeers.Silences(t, am))
		id, _, err := c.Silence(ctx, tc.external, order(time.Hour))
		if tc.ok != (err == nil) {
			t.Errorf("%s: silence %q, err = %v, want ok=%v", tc.name, id, err, tc.ok)
		}
		if created := len(testpeers.Silences(t, am)) > before; created != tc.ok {
			t.Errorf("%s: a silence was created in Alertmanager = %v", tc.name, created)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("the redirecting host was asked %d times, want once (and not followed)", hits.Load())
	}
	// A peer recorded from an earlier externalURL is asked again only if
	// it is still admitted.
	c, _ := alertmanager.New(alertmanager.Options{})
	if err := c.Expire(ctx, am, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, bot.ErrConflict) {
		t.Errorf("expiring at a recorded peer no longer allowed: %v, want ErrConflict", err)
	}
}
