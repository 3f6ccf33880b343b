package main

import (
	"context"
	"flag"
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

var stormPeople = flag.Int("storm.people", 1, "TestStormPages: how many people the 200 teams share on call (round robin); 200 gives each team its own")

// TestStormPages measures whether pages wait behind channel work, and how
// many messages a person on call gets: the storm of TestAlertStorm (200
// groups, 10,000 alerts over a minute, Slack's rate limits sped up
// -storm.speedup times on both sides), with 200 teams, one per group's
// service, each paging at once the person on call for it: by default the
// same one for all (-storm.people). For every incident it takes the time
// from the incident's creation (the webhook that opened it) to its
// channel (conversations.create, from the fake Slack's log) and to its
// Slack page being sent (the page's sent_at), and reports p50 and p99 of
// both, and the DMs (chat.postMessage to a user ID) each person received.
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
	people := max(*stormPeople, 1)
	for g := 0; g <= stormGroups; g++ {
		svc, user := (&loadgen.Group{ID: g}).Service(), fmt.Sprintf("U0P%05d", g%people)
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
	sentAt := func(inc *bot.Incident) *time.Time {
		pages, err := svc.Pages(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pages {
			if p.Via == bot.ViaSlack && p.SentAt != nil {
				return p.SentAt
			}
		}
		return nil
	}
	waitFor(t, 2*time.Minute, "every incident's page to be sent", func() bool {
		for _, inc := range incs {
			if sentAt(inc) == nil {
				return false
			}
		}
		return true
	})
	created, dms := map[string]time.Time{}, map[string]int{}
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
			dms[ch]++
		}
	}
	var toChannel, toPage []time.Duration
	for _, inc := range incs {
		c, okc := created[fmt.Sprint(inc.ID)]
		d := sentAt(inc)
		if !okc || d == nil {
			t.Errorf("%s: channel created %v, page sent %v", inc.Key(), okc, d != nil)
			continue
		}
		toChannel = append(toChannel, c.Sub(inc.CreatedAt))
		toPage = append(toPage, d.Sub(inc.CreatedAt))
	}
	var perPerson []int
	total := 0
	for _, n := range dms {
		perPerson = append(perPerson, n)
		total += n
	}
	slices.Sort(perPerson)
	q := func(ds []time.Duration, p float64) time.Duration {
		slices.Sort(ds)
		return ds[min(len(ds)-1, int(p*float64(len(ds))))].Round(time.Millisecond)
	}
	if len(toPage) == 0 {
		t.Fatal("nothing measured")
	}
	if len(perPerson) == 0 {
		t.Fatal("no page DMs")
	}
	t.Logf("%d incidents, Slack limits sped up %.0fx: webhook -> channel created p50 %s p99 %s max %s; webhook -> page sent p50 %s p99 %s max %s",
		len(toPage), speedup, q(toChannel, 0.5), q(toChannel, 0.99), q(toChannel, 1), q(toPage, 0.5), q(toPage, 0.99), q(toPage, 1))
	t.Logf("%d people on call: %d page DMs in all, per person min %d max %d", len(perPerson), total, perPerson[0], perPerson[len(perPerson)-1])
}
