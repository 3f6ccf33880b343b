package main

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
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

var (
	stormSpeedup = flag.Float64("storm.speedup", 30, "storm test: run Slack's rate limits (the fake Slack's and the client's own) this many times faster; 1 is Slack's real pace (give go test -timeout 90m)")
	stormLength  = flag.Duration("storm.length", time.Minute, "storm test: how long the 10,000 alerts take to arrive")
	stormStrict  = flag.Bool("storm.strict", false, "storm test: the fake Slack allows no bursts, so a client pacing itself at exactly Slack's rates meets 429s")
)

// The storm: 10,000 alerts over stormLength in 200 groups of 50, sent as
// Alertmanager sends them, with its timers shortened as in the other
// end-to-end tests (real defaults are 30 s and 5 m).
const (
	stormGroups        = 200
	stormAlertsPer     = 50
	stormGroupWait     = 5 * time.Second
	stormGroupInterval = 10 * time.Second
)

// stormSend is one notification Alertmanager sends: at offset from the
// storm's start, group's first n alerts.
type stormSend struct {
	at    time.Duration
	group int
	n     int
	// dup marks a copy an HA peer sends as well.
	dup bool
}

// stormSchedule lays out the storm: alert k (of 10,000) starts at
// k/10,000 of length, in group k mod 200, so every group grows all along.
// Each group notifies group_wait after its first alert, then every
// group_interval while its alert set has grown, each time with the whole
// set; a quarter of the notifications are also sent by an HA peer.
func stormSchedule(length time.Duration) (sends []stormSend, starts [][]time.Duration) {
	total := stormGroups * stormAlertsPer
	starts = make([][]time.Duration, stormGroups)
	for k := range total {
		g := k % stormGroups
		starts[g] = append(starts[g], time.Duration(k)*length/time.Duration(total))
	}
	for g := range stormGroups {
		sent, round := 0, 0
		for at := starts[g][0] + stormGroupWait; sent < stormAlertsPer; at += stormGroupInterval {
			n := sort.Search(stormAlertsPer, func(i int) bool { return starts[g][i] > at })
			if n > sent {
				sends = append(sends, stormSend{at: at, group: g, n: n})
				if (g+round)%4 == 0 {
					sends = append(sends, stormSend{at: at + 50*time.Millisecond, group: g, n: n, dup: true})
				}
				sent, round = n, round+1
			}
		}
	}
	sort.SliceStable(sends, func(i, j int) bool { return sends[i].at < sends[j].at })
	return sends, starts
}

// stormBot is the service wired as serve wires it, but in the test, so
// that the Slack client's own rate limits can be sped up like the fake
// Slack's: serve has no setting for them, and at Slack's pace 200
// channels take half an hour.
type stormBot struct {
	URL   string
	store *bolt.Store
	svc   *bot.Service
}

func startStormBot(t *testing.T, slack *slacktesting.Server, announce, token string, speedup float64) *stormBot {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "incidentbot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	limits := botslack.DefaultLimits()
	for _, r := range []*botslack.Rate{&limits.Tier2, &limits.Tier3, &limits.Tier4, &limits.Post} {
		r.Every = time.Duration(float64(r.Every) / speedup)
	}
	client := botslack.New("xoxb-storm", botslack.Options{APIURL: slack.APIURL(), Channel: announce,
		Responders: []string{"U0ONCALL"}, PublicURL: "https://incidentbot.example.com", Runbooks: runbooks.Builtin(), Limits: &limits})
	worker := bot.NewWorker(store, client, bot.WorkerOptions{})
	svc := bot.NewService(store, bot.Options{Chat: true, Wake: worker.Wake})
	srv := webhooks.New(webhooks.Config{Service: svc, WebhookToken: token})
	hs := httptest.NewServer(srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx) }()
	t.Cleanup(func() {
		hs.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
		srv.Close()
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &stormBot{URL: hs.URL, store: store, svc: svc}
}

// TestAlertStorm sends 10,000 alerts in 200 groups over a minute while
// the fake Slack enforces Slack's rate limits (sped up, see
// -storm.speedup), then checks that nothing was lost or repeated: 200
// incidents holding every alert, Slack calls that grow with incidents and
// notification rounds but not with alerts, every 429 waited out, nothing
// given up.
func TestAlertStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 90 s")
	}
	speedup := *stormSpeedup
	slack := slacktesting.New()
	defer slack.Close()
	announce := slack.AddChannel("incidents", false)
	limits := slacktesting.SlackRates(speedup)
	if *stormStrict {
		limits = limits.Strict()
	}
	slack.SetRateLimits(limits)
	const token = "wh-token-storm"
	b := startStormBot(t, slack, announce, token, speedup)

	sends, starts := stormSchedule(*stormLength)
	begin := time.Now()
	stop := injectRateLimits(slack, *stormLength/6)
	retries := driveStorm(t, loadgen.Target{URL: b.URL, Token: token}, sends, starts, begin)
	stop()
	stormTook := time.Since(begin)
	// Each tier-2 method (create, setTopic, bookmarks.add) makes 200 calls at 20 a minute.
	slackTime := time.Duration(float64(stormGroups*3*time.Second) / speedup)
	waitFor(t, 3*slackTime+2*time.Minute, "the outbox to drain", func() bool { return pending(t, b.store) == 0 })
	t.Logf("%d notifications (%d HA copies, %d retried) in %v; Slack done %v after the start (speedup %.0f)",
		len(sends), countDups(sends), retries, stormTook.Round(time.Second), time.Since(begin).Round(time.Second), speedup)

	incs, err := b.svc.Incidents(context.Background(), bot.IncidentFilter{WithAlerts: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != stormGroups {
		t.Fatalf("%d incidents, want exactly %d (one per group)", len(incs), stormGroups)
	}
	checkStormAlerts(t, incs)
	checkStormTimelines(t, b.svc, incs)
	rounds := map[int]int{}
	for _, s := range sends {
		if !s.dup {
			rounds[s.group]++
		}
	}
	checkStormSlack(t, slack, announce, incs, slackStates(t, b.svc, incs), rounds)
}

// injectRateLimits answers a few calls 429 every period, one method after
// the other, on top of the rate limits: the client's own limiter keeps
// under Slack's rates, so without these the storm might meet no 429 to
// wait out. The returned function stops it.
func injectRateLimits(slack *slacktesting.Server, period time.Duration) (stop func()) {
	methods := []string{"conversations.create", "chat.postMessage", "chat.update", "conversations.setTopic", "conversations.invite", "bookmarks.add"}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for i := 0; ; i++ {
			slack.Fail(methods[i%len(methods)], 2, slacktesting.RateLimited(time.Duration(1+i%3)*time.Second))
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// driveStorm sends the schedule on time from a pool of senders (as
// Alertmanager notifies groups concurrently) and fails the test unless
// every notification is finally answered 200. It retries a 5xx or a
// network error as Alertmanager would (0.5 s, then x1.5) and returns how
// many retries it took.
func driveStorm(t *testing.T, target loadgen.Target, sends []stormSend, starts [][]time.Duration, begin time.Time) int {
	t.Helper()
	jobs := make(chan stormSend)
	var mu sync.Mutex
	retries, failed := 0, []string{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for s := range jobs {
				g := &loadgen.Group{ID: s.group + 1, Alerts: make([]loadgen.Alert, s.n)}
				for i := range g.Alerts {
					g.Alerts[i] = loadgen.Alert{N: i, Firing: true, StartsAt: begin.Add(starts[s.group][i])}
				}
				body := loadgen.AppendBody(nil, g)
				status, tries := postRetrying(target, body)
				mu.Lock()
				retries += tries - 1
				if status != 200 {
					failed = append(failed, fmt.Sprintf("group %d (%d alerts): %d", s.group, s.n, status))
				}
				mu.Unlock()
			}
		})
	}
	for _, s := range sends {
		time.Sleep(time.Until(begin.Add(s.at)))
		jobs <- s
	}
	close(jobs)
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d notifications never got a 200, e.g. %s", len(failed), failed[0])
	}
	return retries
}

// postRetrying sends body until it gets a 2xx or a 4xx (final for
// Alertmanager), at most 6 tries.
func postRetrying(target loadgen.Target, body []byte) (status, tries int) {
	wait := 500 * time.Millisecond
	for tries = 1; ; tries++ {
		s, err := target.Send(context.Background(), body)
		if err == nil && s < 500 || tries == 6 {
			return s, tries
		}
		time.Sleep(wait)
		wait = wait * 3 / 2
	}
}

func countDups(sends []stormSend) int {
	n := 0
	for _, s := range sends {
		if s.dup {
			n++
		}
	}
	return n
}

// pending reports whether any delivery waits in the outbox (1) or none
// does (0): reading one is enough, and the storm polls it often.
func pending(t *testing.T, store bot.Store) int {
	t.Helper()
	var n int
	err := store.View(context.Background(), func(tx bot.Tx) error {
		ds, err := tx.Pending(1)
		n = len(ds)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkStormAlerts: each group's incident holds exactly its 50 alerts,
// all firing.
func checkStormAlerts(t *testing.T, incs []*bot.Incident) {
	t.Helper()
	byKey := map[string]*bot.Incident{}
	for _, inc := range incs {
		byKey[inc.GroupKey] = inc
	}
	lost := 0
	for g := range stormGroups {
		group := &loadgen.Group{ID: g + 1}
		inc := byKey[group.Key()]
		if inc == nil {
			t.Errorf("group %d has no incident", g)
			continue
		}
		have := map[string]bool{}
		for _, a := range inc.Alerts {
			have[a.Fingerprint] = a.Status == bot.AlertFiring
		}
		for i := range stormAlertsPer {
			if !have[loadgen.Fingerprint(g+1, i)] {
				lost++
			}
		}
		if len(inc.Alerts) != stormAlertsPer {
			t.Errorf("%s holds %d alerts, want %d", inc.Key(), len(inc.Alerts), stormAlertsPer)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d alerts are missing or not firing", lost, stormGroups*stormAlertsPer)
	}
}

// checkStormTimelines: nothing was given up, and each incident's channel
// was created once.
func checkStormTimelines(t *testing.T, svc *bot.Service, incs []*bot.Incident) {
	t.Helper()
	for _, inc := range incs {
		tl, err := svc.Timeline(context.Background(), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[bot.Kind]int{}
		for _, e := range tl {
			kinds[e.Kind]++
			if e.Kind == bot.KindDeliveryFailed {
				t.Errorf("%s: delivery_failed: %s", inc.Key(), e.Text)
			}
		}
		if kinds[bot.KindChannelCreated] != 1 || kinds[bot.KindAlertFired] != stormAlertsPer {
			t.Errorf("%s: %d channel_created and %d alert_fired entries, want 1 and %d", inc.Key(),
				kinds[bot.KindChannelCreated], kinds[bot.KindAlertFired], stormAlertsPer)
		}
	}
}

// checkStormSlack checks the calls the fake Slack received. Opening an
// incident takes at most openCalls successful calls (create, topic,
// invite, incident message, headline, bookmark, one runbook checklist),
// and each notification round that changed the incident at most three
// (the change post, an edit of the incident message and one of the
// headline; edits of rounds that queued up behind the rate limits
// collapse into one). So an incident costs at most openCalls + 3 x its
// rounds, whatever the number of its alerts; 429s come on top.
func checkStormSlack(t *testing.T, slack *slacktesting.Server, announce string, incs []*bot.Incident, states map[int64]botslack.State, rounds map[int]int) {
	t.Helper()
	const openCalls = 7
	calls := slack.Calls()
	ok, limited := 0, 0
	perMethod := map[string]int{}
	for _, c := range calls {
		perMethod[c.Method]++
		switch c.Err {
		case "":
			ok++
		case "ratelimited":
			limited++
		default:
			t.Errorf("%s failed: %s %v", c.Method, c.Err, c.Params)
		}
	}
	bound := 0
	for _, r := range rounds {
		bound += openCalls + 3*r
	}
	t.Logf("Slack calls: %d succeeded, %d answered 429, bound %d (%.1f an incident); %d alerts; by method %v",
		ok, limited, bound, float64(ok)/float64(len(incs)), stormGroups*stormAlertsPer, perMethod)
	if ok > bound {
		t.Errorf("%d successful Slack calls for %d incidents, want at most %d (%d + 3 a round each)", ok, len(incs), bound, openCalls)
	}
	checkRetryAfter(t, calls, announce)

	channels := map[string][]string{}
	for _, c := range slack.Channels() {
		id, _, _ := strings.Cut(strings.TrimPrefix(c.Name, "inc-"), "-")
		channels[id] = append(channels[id], c.Name)
	}
	for _, inc := range incs {
		st := states[inc.ID]
		if st.ChannelID == "" || st.MessageTS == "" || st.HeadlineTS == "" {
			t.Errorf("%s: channel %q, message %q, headline %q: want all three", inc.Key(), st.ChannelID, st.MessageTS, st.HeadlineTS)
			continue
		}
		if got := channels[fmt.Sprint(inc.ID)]; len(got) != 1 || got[0] != st.ChannelName {
			t.Errorf("%s: channels %v, want only %s", inc.Key(), got, st.ChannelName)
		}
		if n := incidentMessages(slack.Messages(st.ChannelID)); n != 1 {
			t.Errorf("%s: %d incident messages in its channel, want 1", inc.Key(), n)
		}
	}
	if n := len(slack.Messages(announce)); n != len(incs) {
		t.Errorf("%d headlines in the announcement channel, want %d", n, len(incs))
	}
}

// incidentMessages counts the messages carrying the Acknowledge button.
func incidentMessages(msgs []slacktesting.Message) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Blocks, bot.ActionAck) {
			n++
		}
	}
	return n
}

// checkRetryAfter fails for a call repeated before the Retry-After of a
// 429 it got: the same method for the same target (channel name, channel,
// message; a headline by its text, since every incident posts into the
// announcement channel) must not come back sooner. It also counts calls
// of a method that arrived inside another call's Retry-After window
// anyway, which calls already in flight may do.
func checkRetryAfter(t *testing.T, calls []slacktesting.Call, announce string) {
	t.Helper()
	target := func(c slacktesting.Call) string {
		p := c.Params
		key := c.Method + " " + p.Get("name") + p.Get("channel") + p.Get("channel_id") + " " + p.Get("ts")
		if p.Get("channel") == announce {
			key += " " + p.Get("text")
		}
		return key
	}
	blocked := map[string]time.Time{}
	window := map[string]time.Time{}
	inWindow, waited := 0, 0
	for _, c := range calls {
		key := target(c)
		if until, ok := blocked[key]; ok {
			if c.At.Before(until) {
				t.Errorf("%s retried at %s, before the Retry-After ended at %s", key, c.At.Format("15:04:05.000"), until.Format("15:04:05.000"))
			}
			delete(blocked, key)
			waited++
		}
		if until, ok := window[c.Method]; ok && c.At.Before(until) && c.Err != "ratelimited" {
			inWindow++
		}
		if c.Err == "ratelimited" {
			blocked[key] = c.At.Add(c.RetryAfter)
			window[c.Method] = c.At.Add(c.RetryAfter)
		}
	}
	if waited == 0 {
		t.Errorf("no 429 was met and retried: the check above proved nothing")
	}
	t.Logf("429s: %d retried after their Retry-After, %d not retried as such (the step changed); "+
		"calls landing inside another call's Retry-After window of their method (in flight, other targets): %d", waited, len(blocked), inWindow)
}

// slackStates reads the Slack adapter's state of each incident.
func slackStates(t *testing.T, svc *bot.Service, incs []*bot.Incident) map[int64]botslack.State {
	t.Helper()
	ids := make([]int64, len(incs))
	for i, inc := range incs {
		ids[i] = inc.ID
	}
	recs, err := svc.ChatRecords(context.Background(), botslack.Adapter, ids...)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int64]botslack.State, len(recs))
	for id, rec := range recs {
		if out[id], err = botslack.StateOf(rec); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
