package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
	"github.com/incidentbot/incidentbot/internal/loadgen"
	"github.com/incidentbot/incidentbot/store/bolt"
)

var crashKills = flag.Int("crash.kills", 20, "crash test: how many times the service is killed with SIGKILL")

// The crash load: a few alert groups, each growing by one alert every
// crashGrow and sent over and over by two senders (Alertmanager and its HA
// peer), so that most notifications are duplicates and some add an alert.
const (
	crashGroups = 6
	crashGrow   = 1500 * time.Millisecond
	crashFirst  = 3
)

// crashLoad sends the groups' notifications until stopped and remembers,
// per group, the most alerts a notification answered 200 carried. Alert
// sets only grow, so that covers every 200.
type crashLoad struct {
	target loadgen.Target
	start  time.Time
	stopc  chan struct{}
	wg     sync.WaitGroup

	mu             sync.Mutex
	acked          map[int]int
	ok, refused    int
	statuses       map[int]int
	firstNetErrors []string
}

func startCrashLoad(target loadgen.Target) *crashLoad {
	l := &crashLoad{target: target, start: time.Now(), stopc: make(chan struct{}), acked: map[int]int{}, statuses: map[int]int{}}
	for g := 1; g <= crashGroups; g++ {
		for range 2 {
			l.wg.Go(func() { l.send(g) })
		}
	}
	return l
}

// alerts is how many alerts group g has now: crashFirst, then one more
// every crashGrow, each starting when it appears.
func (l *crashLoad) group(g int) *loadgen.Group {
	n := crashFirst + int(time.Since(l.start)/crashGrow)
	out := &loadgen.Group{ID: g, Alerts: make([]loadgen.Alert, n)}
	for i := range out.Alerts {
		out.Alerts[i] = loadgen.Alert{N: i, Firing: true, StartsAt: l.start.Add(time.Duration(max(0, i-crashFirst+1)) * crashGrow)}
	}
	return out
}

func (l *crashLoad) send(g int) {
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		select {
		case <-l.stopc:
			return
		case <-time.After(5 * time.Millisecond):
		}
		grp := l.group(g)
		req, _ := http.NewRequest(http.MethodPost, l.target.URL+"/webhooks/alertmanager", strings.NewReader(string(loadgen.AppendBody(nil, grp))))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+l.target.Token)
		res, err := client.Do(req)
		l.mu.Lock()
		switch {
		case err != nil:
			l.refused++
			if len(l.firstNetErrors) < 3 {
				l.firstNetErrors = append(l.firstNetErrors, err.Error())
			}
		case res.StatusCode == 200:
			l.ok++
			l.acked[g] = max(l.acked[g], len(grp.Alerts))
		default:
			l.statuses[res.StatusCode]++
		}
		l.mu.Unlock()
		if err == nil {
			res.Body.Close()
		}
	}
}

func (l *crashLoad) stop() {
	close(l.stopc)
	l.wg.Wait()
}

// TestCrashRecovery kills the service with SIGKILL at random moments while
// webhooks arrive and Slack actions go out, restarting it each time, then
// checks that every notification answered 200 is stored, that the outbox
// drained without giving anything up, and that Slack got each incident's
// channel exactly once and every message at least once. A message can
// come twice when the process dies between Slack's answer and the commit
// that records it; the test counts those and bounds them by the kills.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary; takes about a minute")
	}
	bin := incidentbotBinary(t)
	slack := slacktesting.New()
	defer slack.Close()
	announce := slack.AddChannel("incidents", false)
	slack.SetRateLimits(slacktesting.SlackRates(1))
	dir := t.TempDir()
	db, logPath := filepath.Join(dir, "incidentbot.db"), filepath.Join(dir, "incidentbot.log")
	const token = "wh-token-crash"
	env := []string{"INCIDENTBOT_ADDR=127.0.0.1:" + freePort(t), "INCIDENTBOT_DB=" + db, "INCIDENTBOT_WEBHOOK_TOKEN=" + token,
		"INCIDENTBOT_LOG_LEVEL=warn", "SLACK_BOT_TOKEN=xoxb-crash", "SLACK_API_URL=" + slack.APIURL(),
		"INCIDENTBOT_SLACK_CHANNEL=" + announce}
	p := startProc(t, bin, env, logPath)
	defer func() {
		if t.Failed() {
			t.Logf("service logs:\n%s", tail(logPath))
		}
	}()

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	load := startCrashLoad(loadgen.Target{URL: p.URL, Token: token})
	for range *crashKills {
		time.Sleep(time.Duration(200+rng.IntN(1800)) * time.Millisecond)
		p.kill()
		p = startProc(t, bin, env, logPath)
	}
	time.Sleep(time.Second)
	load.stop()
	t.Logf("seed %d: %d kills; %d notifications answered 200, %d without an answer (killed or restarting), other answers %v; first errors %q",
		seed, *crashKills, load.ok, load.refused, load.statuses, load.firstNetErrors)
	if len(load.statuses) > 0 {
		t.Errorf("answers other than 200 (and no answer while down): %v", load.statuses)
	}

	// The changes queue up behind Slack's limits (a post a second per
	// channel) for as long as the load ran, at most.
	waitFor(t, 2*time.Minute+time.Since(load.start), "the outbox to drain", func() bool {
		v, err := p.metric("incidentbot_outbox_depth")
		return err == nil && v == 0
	})
	checkCrashAlerts(t, p, load.acked)
	if err := p.stop(t); err != nil {
		t.Fatalf("shutdown after the test: %v", err)
	}
	incs, timelines, states := readStore(t, db)
	checkCrashSlack(t, slack, announce, incs, timelines, states, *crashKills)
}

// checkCrashAlerts reads the incidents through the JSON API: one per
// group, holding every alert of every notification answered 200.
func checkCrashAlerts(t *testing.T, p *proc, acked map[int]int) {
	t.Helper()
	res, err := http.Get(p.URL + "/api/v1/incidents?limit=1000&include=alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list []incidentJSON
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list) != crashGroups {
		t.Errorf("%d incidents, want %d (one per group)", len(list), crashGroups)
	}
	stored := 0
	for g := 1; g <= crashGroups; g++ {
		key := (&loadgen.Group{ID: g}).Key()
		have := map[string]bool{}
		for _, inc := range list {
			if inc.GroupKey == key {
				for _, a := range inc.Alerts {
					have[a.Fingerprint] = true
				}
			}
		}
		for i := range acked[g] {
			if !have[loadgen.Fingerprint(g, i)] {
				t.Errorf("group %d: alert %d was in a notification answered 200 but is not stored", g, i)
			}
		}
		stored += acked[g]
	}
	t.Logf("every alert of every 200 is stored: %d alerts in %d groups", stored, crashGroups)
}

// readStore opens the stopped service's file and returns its incidents
// and timelines, after checking that nothing is left in the outbox.
func readStore(t *testing.T, path string) ([]*bot.Incident, map[int64][]bot.TimelineEntry, map[int64]botslack.State) {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if pending(t, st) != 0 {
		t.Errorf("deliveries are left in the outbox")
	}
	svc := bot.NewService(st, bot.Options{})
	incs, err := svc.Incidents(context.Background(), bot.IncidentFilter{WithAlerts: true})
	if err != nil {
		t.Fatal(err)
	}
	timelines := map[int64][]bot.TimelineEntry{}
	for _, inc := range incs {
		if timelines[inc.ID], err = svc.Timeline(context.Background(), inc.ID); err != nil {
			t.Fatal(err)
		}
	}
	return incs, timelines, slackStates(t, svc, incs)
}

// checkCrashSlack checks what Slack got: one channel per incident, and
// every message (incident message, headline, one post per stored change)
// at least once. Duplicates are counted: each kill may repeat at most the
// steps in flight, one per delivery worker (four).
func checkCrashSlack(t *testing.T, slack *slacktesting.Server, announce string, incs []*bot.Incident, timelines map[int64][]bot.TimelineEntry, states map[int64]botslack.State, kills int) {
	t.Helper()
	channels := map[string][]string{}
	for _, c := range slack.Channels() {
		id, _, _ := strings.Cut(strings.TrimPrefix(c.Name, "inc-"), "-")
		channels[id] = append(channels[id], c.Name)
	}
	headlines := slack.Messages(announce)
	dups := map[string]int{}
	for _, inc := range incs {
		for _, e := range timelines[inc.ID] {
			if e.Kind == bot.KindDeliveryFailed {
				t.Errorf("%s: delivery_failed: %s", inc.Key(), e.Text)
			}
		}
		st := states[inc.ID]
		if got := channels[fmt.Sprint(inc.ID)]; len(got) != 1 || got[0] != st.ChannelName {
			t.Errorf("%s: channels %v, want only %s", inc.Key(), got, st.ChannelName)
			continue
		}
		msgs := slack.Messages(st.ChannelID)
		count := func(what string, n int) {
			if n == 0 {
				t.Errorf("%s: no %s in Slack", inc.Key(), what)
			}
			dups[what] += max(n-1, 0)
		}
		count("incident message", incidentMessages(msgs))
		n := 0
		for _, m := range headlines {
			if strings.HasPrefix(m.Text, inc.Key()+" ") {
				n++
			}
		}
		count("headline", n)
		for _, text := range changePosts(timelines[inc.ID]) {
			n := 0
			for _, m := range msgs {
				// A change post's line is "• <text> — <who> · <when>".
				if strings.Contains(m.Text, "• "+text+" — ") {
					n++
				}
			}
			count("change post", n)
		}
	}
	total := dups["incident message"] + dups["headline"] + dups["change post"]
	ok, limited := 0, 0
	for _, c := range slack.Calls() {
		switch c.Err {
		case "":
			ok++
		case "ratelimited":
			limited++
		}
	}
	t.Logf("Slack: %d calls succeeded, %d answered 429; duplicated after %d kills: %v (channels: none)", ok, limited, kills, dups)
	if total > 4*kills {
		t.Errorf("%d duplicated messages for %d kills: more than the steps in flight can explain", total, kills)
	}
}

// changePosts returns the texts of the alert entries that a change post
// announced: those not written with the incident's opening, which the
// incident message shows instead.
func changePosts(tl []bot.TimelineEntry) []string {
	var opened time.Time
	for _, e := range tl {
		if e.Kind == bot.KindOpened {
			opened = e.RecordedAt
		}
	}
	var out []string
	for _, e := range tl {
		if e.Kind == bot.KindAlertFired && !e.RecordedAt.Equal(opened) {
			out = append(out, e.Text)
		}
	}
	return out
}
