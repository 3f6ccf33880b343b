package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
	"github.com/incidentbot/incidentbot/internal/loadgen"
	"github.com/incidentbot/incidentbot/runbooks"
	"github.com/incidentbot/incidentbot/store/bolt"
	"github.com/incidentbot/incidentbot/webhooks"
)

// TestStormPages measures whether pages wait behind channel work: the
// storm of TestAlertStorm (200 groups, 10,000 alerts over a minute,
// Slack's rate limits sped up -storm.speedup times on both sides), with
// 200 teams, one per group's service, each paging its own person at once.
// For every incident it takes, from the fake Slack's log, the time from
// the incident's creation (the webhook that opened it) to its channel
// (conversations.create) and to its first page DM (chat.postMessage to
// the person's user ID), and reports p50 and p99 of both.
//
//	INCIDENTBOT_STORM_PAGES=1 go test -run TestStormPages -v ./cmd/incidentbot
func TestStormPages(t *testing.T) {
	if os.Getenv("INCIDENTBOT_STORM_PAGES") == "" {
		t.Skip("set INCIDENTBOT_STORM_PAGES=1 to measure (about 2 minutes)")
	}
	speedup := *stormSpeedup
	slack := slacktesting.New()
	defer slack.Close()
	announce := slack.AddChannel("incidents", false)
	slack.SetRateLimits(slacktesting.SlackRates(speedup))
	const token = "wh-token-storm-pages"

	oc := &bot.OnCall{}
	for g := 0; g <= stormGroups; g++ {
		svc, user := (&loadgen.Group{ID: g}).Service(), fmt.Sprintf("U0P%05d", g)
		oc.Teams = append(oc.Teams, bot.Team{Name: fmt.Sprintf("t%d", g),
			Match:      func(l map[string]string) bool { return l["service"] == svc },
			Schedules:  []bot.Rotation{{Name: "primary", Zone: time.UTC, Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Shift: 24 * time.Hour, Members: []string{user}}},
			Escalation: bot.Escalation{Steps: []bot.EscalationStep{{Notify: []bot.Target{{Kind: bot.TargetSchedule, Ref: "primary"}}}}},
		})
	}
	store, err := bolt.Open(filepath.Join(t.TempDir(), "incidentbot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	limits := botslack.DefaultLimits()
	for _, r := range []*botslack.Rate{&limits.Tier2, &limits.Tier3, &limits.Tier4, &limits.Post} {
		r.Every = time.Duration(float64(r.Every) / speedup)
	}
	client := botslack.New("xoxb-storm", botslack.Options{APIURL: slack.APIURL(), Channel: announce,
		PublicURL: "https://incidentbot.example.com", Runbooks: runbooks.Builtin(), Limits: &limits})
	worker := bot.NewWorker(store, client, bot.WorkerOptions{})
	var eng *bot.Engine
	svc := bot.NewService(store, bot.Options{Chat: true, Wake: worker.Wake, OnCall: oc, OnTimers: func() { eng.Wake() }})
	eng = bot.NewEngine(svc, bot.EngineOptions{Pagers: []bot.Pager{client.Pager()}})
	srv := webhooks.New(webhooks.Config{Service: svc, WebhookToken: token})
	hs := httptest.NewServer(srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = worker.Run(ctx); done <- struct{}{} }()
	go func() { _ = eng.Run(ctx); done <- struct{}{} }()
	defer func() {
		hs.Close()
		cancel()
		<-done
		<-done
		srv.Close()
		_ = store.Close()
	}()

	sends, starts := stormSchedule(*stormLength)
	begin := time.Now()
	driveStorm(t, loadgen.Target{URL: hs.URL, Token: token}, sends, starts, begin)
	slackTime := time.Duration(float64(stormGroups*3*time.Second) / speedup)
	waitFor(t, 3*slackTime+2*time.Minute, "the outbox to drain", func() bool { return pending(t, store) == 0 })

	incs, err := svc.Incidents(ctx, bot.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	created, dms := map[string]time.Time{}, map[string]time.Time{}
	for _, c := range slack.Calls("conversations.create", "chat.postMessage") {
		if c.Err != "" {
			continue
		}
		switch ch := c.Params.Get("channel"); {
		case c.Method == "conversations.create":
			id, _, _ := strings.Cut(strings.TrimPrefix(c.Params.Get("name"), "inc-"), "-")
			if _, ok := created[id]; !ok {
				created[id] = c.At
			}
		case strings.HasPrefix(ch, "U0P"):
			if _, ok := dms[ch]; !ok {
				dms[ch] = c.At
			}
		}
	}
	var toChannel, toPage []time.Duration
	for _, inc := range incs {
		user := ""
		for _, a := range inc.Alerts {
			var g int
			if _, err := fmt.Sscanf(a.Labels["service"], "svc-%06d", &g); err == nil {
				user = fmt.Sprintf("U0P%05d", g)
			}
		}
		c, okc := created[fmt.Sprint(inc.ID)]
		d, okd := dms[user]
		if !okc || !okd {
			t.Errorf("%s: channel created %v, page DM to %s %v", inc.Key(), okc, user, okd)
			continue
		}
		toChannel = append(toChannel, c.Sub(inc.CreatedAt))
		toPage = append(toPage, d.Sub(inc.CreatedAt))
	}
	q := func(ds []time.Duration, p float64) time.Duration {
		slices.Sort(ds)
		return ds[min(len(ds)-1, int(p*float64(len(ds))))].Round(time.Millisecond)
	}
	if len(toPage) == 0 {
		t.Fatal("nothing measured")
	}
	t.Logf("%d incidents, Slack limits sped up %.0fx: webhook -> channel created p50 %s p99 %s max %s; webhook -> first page DM p50 %s p99 %s max %s",
		len(toPage), speedup, q(toChannel, 0.5), q(toChannel, 0.99), q(toChannel, 1), q(toPage, 0.5), q(toPage, 0.99), q(toPage, 1))
}
