package bot_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// fakeSilencer records calls; fail makes the next calls fail with it.
type fakeSilencer struct {
	created  []bot.Silence
	fallback []string
	expired  []string
	fail     error
	n        int
	mu       sync.Mutex // Firing runs on the engine
	firing   []string
	checks   []string
	onFiring func() // runs in Firing, outside any transaction
}

func (f *fakeSilencer) Silence(_ context.Context, fallback string, s bot.Silence) (string, string, error) {
	if f.fail != nil {
		return "", "", f.fail
	}
	f.n++
	f.created, f.fallback = append(f.created, s), append(f.fallback, fallback)
	if s.ID != "" {
		return s.ID, "http://am-2:9093", nil // extended in place
	}
	return fmt.Sprintf("sil-%d", f.n), "http://am-2:9093", nil
}

func (f *fakeSilencer) Expire(_ context.Context, peer, id string) error {
	if f.fail != nil {
		return f.fail
	}
	f.expired = append(f.expired, peer+" "+id)
	return nil
}

// Firing answers f.firing (nil: the group is quiet) and counts the calls.
func (f *fakeSilencer) Firing(_ context.Context, peer, fallback string, ms []bot.Matcher, receiver string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks = append(f.checks, fmt.Sprintf("%s %v %s", peer, ms, receiver))
	firing, hook := f.firing, f.onFiring
	f.onFiring = nil
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	f.mu.Lock()
	return firing, nil
}

// answer sets what Firing answers from now on.
func (f *fakeSilencer) answer(firing []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.firing = firing
}

// checked returns the Firing calls so far.
func (f *fakeSilencer) checked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.checks...)
}

// storeFailing fails every Update while fail is set.
type storeFailing struct {
	bot.Store
	fail bool
}

func (s *storeFailing) Update(ctx context.Context, fn func(tx bot.Tx) error) error {
	if s.fail {
		return fmt.Errorf("%w: disk full", bot.ErrUnavailable)
	}
	return s.Store.Update(ctx, fn)
}

func newSilenceService(t *testing.T) (*bot.Service, *fakeSilencer, *storeFailing, *time.Time) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fs, sf := &fakeSilencer{}, &storeFailing{Store: st}
	now := t0.Add(10 * time.Minute)
	svc := bot.NewService(sf, bot.Options{Now: func() time.Time { return now }, Silencer: fs})
	return svc, fs, sf, &now
}

func TestSilenceRecordsWhatAlertmanagerTook(t *testing.T) {
	ctx := context.Background()
	svc, fs, _, now := newSilenceService(t)
	id := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1))).Incident

	inc, sil, err := svc.Silence(ctx, id, bot.SilenceOrder{Actor: "<@U1>", By: "alice", For: 30 * time.Minute,
		Comment: "restarting pods", Link: "https://bot/api/v1/incidents/1"})
	if err != nil {
		t.Fatal(err)
	}
	got := fs.created[0]
	wantMatchers := `alertname="MemoryLeak" service="payment-gateway"`
	if m := fmt.Sprint(got.Matchers[0], " ", got.Matchers[1]); len(got.Matchers) != 2 || m != wantMatchers {
		t.Errorf("matchers = %v, want %s (the group labels, as equality matchers)", got.Matchers, wantMatchers)
	}
	if !got.StartsAt.Equal(*now) || !got.EndsAt.Equal(now.Add(30*time.Minute)) || got.CreatedBy != "alice" {
		t.Errorf("silence = %+v, want 30m from now by alice", got)
	}
	for _, w := range []string{"INC-1", "https://bot/api/v1/incidents/1", "alice", "restarting pods"} {
		if !strings.Contains(got.Comment, w) {
			t.Errorf("comment %q does not name %q", got.Comment, w)
		}
	}
	if fs.fallback[0] != "http://alertmanager:9093" {
		t.Errorf("fallback = %q, want the group's externalURL", fs.fallback[0])
	}
	if sil.ID != "sil-1" || len(inc.Silences) != 1 || inc.Silences[0].Alertmanager != "http://am-2:9093" || inc.Silences[0].Actor != "<@U1>" {
		t.Errorf("recorded %+v", inc.Silences)
	}
	tl := timelineOf(t, svc, id)
	last := tl[len(tl)-1]
	if last.Kind != bot.KindSilenced || last.Actor != "<@U1>" || !strings.Contains(last.Text, "sil-1") || !strings.Contains(last.Text, "http://am-2:9093") {
		t.Errorf("last entry = %+v", last)
	}

	// A second silence while one runs extends it instead of adding one.
	inc, _, err = svc.Silence(ctx, id, bot.SilenceOrder{Actor: "<@U2>", For: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if fs.created[1].ID != "sil-1" || len(inc.Silences) != 1 || !inc.Silences[0].EndsAt.Equal(now.Add(4*time.Hour)) {
		t.Errorf("extend: sent ID %q, recorded %+v", fs.created[1].ID, inc.Silences)
	}

	// Unsilence expires it at the peer that took it.
	inc, ended, err := svc.Unsilence(ctx, id, "<@U3>")
	if err != nil || len(ended) != 1 || fs.expired[0] != "http://am-2:9093 sil-1" {
		t.Fatalf("unsilence: %v, ended %v, expired %v", err, ended, fs.expired)
	}
	if inc.Silences[0].ExpiredAt == nil || inc.Silences[0].Active(*now) {
		t.Errorf("silence still active after unsilence: %+v", inc.Silences[0])
	}
	if _, _, err := svc.Unsilence(ctx, id, "<@U3>"); !errors.Is(err, bot.ErrConflict) {
		t.Errorf("second unsilence: %v, want ErrConflict (nothing active)", err)
	}
}

func TestSilenceFailuresRecordNothing(t *testing.T) {
	ctx := context.Background()
	svc, fs, sf, _ := newSilenceService(t)
	id := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1))).Incident
	before := len(timelineOf(t, svc, id))

	fs.fail = errors.New("could not reach Alertmanager: http://am-1:9093 (connection refused)")
	if _, _, err := svc.Silence(ctx, id, bot.SilenceOrder{Actor: "<@U1>"}); err == nil || !strings.Contains(err.Error(), "am-1") {
		t.Errorf("unreachable: err = %v, want the peer named", err)
	}
	fs.fail = nil
	sf.fail = true
	if _, _, err := svc.Silence(ctx, id, bot.SilenceOrder{Actor: "<@U1>"}); !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("store down: err = %v", err)
	}
	sf.fail = false
	if len(fs.expired) != 1 || fs.expired[0] != "http://am-2:9093 sil-1" {
		t.Errorf("a silence created but not recorded must be expired again; expired %v", fs.expired)
	}
	inc, _ := svc.Incident(ctx, id)
	if len(inc.Silences) != 0 || len(timelineOf(t, svc, id)) != before {
		t.Errorf("failures recorded something: %+v", inc.Silences)
	}

	for _, tc := range []struct {
		name string
		o    bot.SilenceOrder
		want error
	}{
		{"too long", bot.SilenceOrder{Actor: "<@U1>", For: 8 * 24 * time.Hour}, bot.ErrInvalid},
		{"too short", bot.SilenceOrder{Actor: "<@U1>", For: time.Second}, bot.ErrInvalid},
		{"no actor", bot.SilenceOrder{}, bot.ErrInvalid},
	} {
		if _, _, err := svc.Silence(ctx, id, tc.o); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	declared, err := svc.Declare(ctx, "by hand", bot.SEV2, "<@U1>", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Silence(ctx, declared.ID, bot.SilenceOrder{Actor: "<@U1>"}); !errors.Is(err, bot.ErrConflict) || !strings.Contains(err.Error(), "declared by hand") {
		t.Errorf("declared incident: err = %v, want ErrConflict naming why", err)
	}
	if _, err := svc.Apply(ctx, id, bot.Action{Op: bot.OpResolve, Actor: "<@U1>"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.CanSilence(ctx, id); !errors.Is(err, bot.ErrConflict) {
		t.Errorf("resolved incident: err = %v, want ErrConflict", err)
	}
	if len(fs.created) != 1 {
		t.Errorf("refused orders reached Alertmanager: %d calls", len(fs.created))
	}
}

func TestSilenceMatchersNeedGroupLabels(t *testing.T) {
	inc := &bot.Incident{ID: 3, GroupKey: "{}:{}", GroupLabels: map[string]string{}}
	if _, err := bot.SilenceMatchers(inc); !errors.Is(err, bot.ErrConflict) {
		t.Errorf("a group without labels: err = %v, want ErrConflict (a silence without matchers mutes everything)", err)
	}
}

func TestParseSpan(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "2h", want: 2 * time.Hour},
		{in: "90m", want: 90 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "1d", want: 24 * time.Hour},
		{in: "1w", want: 7 * 24 * time.Hour},
		{in: "2D12H", want: 60 * time.Hour},
		{in: "", bad: true},
		{in: "h", bad: true},
		{in: "2", bad: true},
		{in: "2y", bad: true},
		{in: "-2h", bad: true},
		{in: "1.5h", bad: true},
		{in: "99999999999h", bad: true},
		{in: "999999w", bad: true},
	}
	for _, tc := range tests {
		got, err := bot.ParseSpan(tc.in)
		if tc.bad {
			if !errors.Is(err, bot.ErrInvalid) {
				t.Errorf("ParseSpan(%q) = %v, %v; want ErrInvalid", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSpan(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, _ := bot.ParseSpan(bot.FormatSpan(got)); back != got {
			t.Errorf("FormatSpan(%v) = %q does not read back", got, bot.FormatSpan(got))
		}
	}
}

func FuzzParseSpan(f *testing.F) {
	for _, s := range []string{"2h", "1d12h", "", "9999999w", "1x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := bot.ParseSpan(s)
		if err == nil && (d < 0 || d > 100*bot.MaxSilence) {
			t.Errorf("ParseSpan(%q) = %v", s, d)
		}
	})
}

func timelineOf(t *testing.T, svc *bot.Service, id int64) []bot.TimelineEntry {
	t.Helper()
	tl, err := svc.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func TestResolvingExpiresSilencesThroughTheEngine(t *testing.T) {
	ctx := context.Background()
	svc, fs, sf, _ := newSilenceService(t)
	id := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1))).Incident
	if _, _, err := svc.Silence(ctx, id, bot.SilenceOrder{Actor: "<@U1>"}); err != nil {
		t.Fatal(err)
	}
	fs.fail = errors.New("could not reach Alertmanager: http://am-2:9093 (connection refused)")
	// The alert resolving resolves the incident, on the webhook path: it
	// only leaves a timer behind.
	mustIngest(t, svc, notification(leakAlert("pg-1", 0, 5)))
	next := func() *bot.Timer {
		var tm *bot.Timer
		_ = sf.View(ctx, func(tx bot.Tx) (err error) { tm, err = tx.NextTimer(); return err })
		return tm
	}
	tm := next()
	if tm == nil || tm.Kind != bot.TimerSilences || tm.IncidentID != id {
		t.Fatalf("timer after resolving: %+v", tm)
	}
	engineNow := time.Now()
	e := bot.NewEngine(svc, bot.EngineOptions{Now: func() time.Time { return engineNow }})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- e.Run(runCtx) }()
	deadline := time.Now().Add(5 * time.Second)
	for tm := next(); tm == nil || tm.N == 0; tm = next() {
		if time.Now().After(deadline) {
			t.Fatal("a failed expiry did not move its timer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if tm := next(); !tm.Due.After(engineNow) {
		t.Errorf("retry due %v, want after now %v", tm.Due, engineNow)
	}
	stop()
	<-done

	fs.fail = nil
	engineNow = engineNow.Add(time.Hour)
	runCtx, stop = context.WithCancel(ctx)
	go func() { done <- e.Run(runCtx) }()
	defer func() { stop(); <-done }()
	for next() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the silence timer never finished")
		}
		time.Sleep(10 * time.Millisecond)
	}
	inc, _ := svc.Incident(ctx, id)
	if len(fs.expired) != 1 || inc.Silences[0].ExpiredAt == nil {
		t.Fatalf("expired %v, recorded %+v", fs.expired, inc.Silences)
	}
	tl := timelineOf(t, svc, id)
	if last := tl[len(tl)-1]; last.Kind != bot.KindUnsilenced || last.Actor != bot.ActorBot || !strings.Contains(last.Text, "INC-1 resolved") {
		t.Errorf("last entry %+v", last)
	}
}

// silenceCheck returns the stored silence-check timer of incident id, or
// nil when there is none.
func silenceCheck(t *testing.T, st bot.Store, id int64) *bot.Timer {
	t.Helper()
	var found *bot.Timer
	err := st.View(context.Background(), func(tx bot.Tx) error {
		tms, err := tx.DueTimers(t0.Add(1000*time.Hour), 1000)
		for i := range tms {
			if tms[i].Kind == bot.TimerSilenceCheck && tms[i].IncidentID == id {
				found = &tms[i]
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// silencedEngine silences incident id's group with Firing answering
// firing, runs an engine on a clock of its own, and returns a step that
// sets Firing's answer, moves the clock by d and waits until the check
// that fell due has committed its outcome: wantChecks Firing calls and
// the timer moved past the clock, or gone.
func silencedEngine(t *testing.T, svc *bot.Service, fs *fakeSilencer, st bot.Store, id int64, now time.Time, firing []string) func(d time.Duration, firing []string, wantChecks int) {
	t.Helper()
	fs.answer(firing)
	if _, _, err := svc.Silence(context.Background(), id, bot.SilenceOrder{Actor: "<@U1>", For: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := now
	runEngine(t, svc, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	return func(d time.Duration, firing []string, wantChecks int) {
		t.Helper()
		fs.answer(firing)
		mu.Lock()
		clock = clock.Add(d)
		at := clock
		mu.Unlock()
		deadline := time.Now().Add(5 * time.Second)
		for {
			tm := silenceCheck(t, st, id)
			if len(fs.checked()) >= wantChecks && (tm == nil || tm.Due.After(at)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 5s: %d checks (want %d), timer %+v", len(fs.checked()), wantChecks, tm)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestSilencedGroupCheckedUntilQuiet silences a group whose alerts keep
// firing: every silenceCheckEvery the engine asks Alertmanager, and once
// Alertmanager holds none of the group's alerts, twice 2 minutes apart,
// the incident's alerts are taken as resolved and the incident resolves,
// with an entry by the bot saying why.
func TestSilencedGroupCheckedUntilQuiet(t *testing.T) {
	ctx := context.Background()
	svc, fs, sf, now := newSilenceService(t)
	id := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1))).Incident
	advance := silencedEngine(t, svc, fs, sf, id, *now, []string{"fp-pg-1"})
	// The check is due one interval on: an engine at now cannot run it.
	if tm := silenceCheck(t, sf, id); tm == nil || !tm.Due.Equal(now.Add(5*time.Minute)) || len(fs.checked()) != 0 {
		t.Fatalf("before the first interval: timer %+v, checks %v", tm, fs.checked())
	}
	advance(5*time.Minute, []string{"fp-pg-1"}, 1)
	if c := fs.checked(); c[0] != `http://am-2:9093 [alertname="MemoryLeak" service="payment-gateway"] incidentbot` {
		t.Errorf("asked %q: want the peer that took the silence, the group's matchers and receiver", c[0])
	}
	if inc, _ := svc.Incident(ctx, id); !inc.Open() {
		t.Fatal("resolved while Alertmanager still held a firing alert")
	}
	advance(5*time.Minute, nil, 2)
	if inc, _ := svc.Incident(ctx, id); !inc.Open() || inc.Alerts[0].Status != bot.AlertFiring {
		t.Fatal("resolved on one empty answer: a restarted Alertmanager answers none until Prometheus resends")
	}
	if tm := silenceCheck(t, sf, id); tm == nil || !tm.Due.Equal(now.Add(12*time.Minute)) {
		t.Fatalf("after the first empty answer: timer %+v, want the next check 2 minutes on", tm)
	}
	advance(2*time.Minute, nil, 3)
	inc, _ := svc.Incident(ctx, id)
	if inc.Open() || inc.Roster.Firing != 0 || inc.Alerts[0].Status != bot.AlertResolved {
		t.Fatalf("after two quiet checks: status %s, roster %+v, alert %s; want resolved", inc.Status, inc.Roster, inc.Alerts[0].Status)
	}
	found := false
	for _, e := range timelineOf(t, svc, id) {
		found = found || (e.Actor == bot.ActorBot && e.Kind == bot.KindAlertResolved && strings.Contains(e.Text, "while silence sil-1 runs"))
	}
	if !found {
		t.Errorf("no entry by the bot saying Alertmanager reported the group quiet: %+v", timelineOf(t, svc, id))
	}
}

// TestSilenceCheckEmptyAnswerThenFiringKeepsIncident is an Alertmanager
// restarting while the group is silenced: one check gets no alerts, the
// next (Prometheus has resent them) gets them back. The incident stays
// open with its alert firing, and a later empty answer starts the count
// again.
func TestSilenceCheckEmptyAnswerThenFiringKeepsIncident(t *testing.T) {
	ctx := context.Background()
	svc, fs, sf, now := newSilenceService(t)
	id := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1))).Incident
	advance := silencedEngine(t, svc, fs, sf, id, *now, []string{"fp-pg-1"})
	advance(5*time.Minute, nil, 1)
	advance(2*time.Minute, []string{"fp-pg-1"}, 2)
	if tm := silenceCheck(t, sf, id); tm == nil || tm.QuietSince != nil {
		t.Fatalf("a firing answer must reset the quiet count: timer %+v", tm)
	}
	advance(5*time.Minute, nil, 3)
	inc, _ := svc.Incident(ctx, id)
	if !inc.Open() || inc.Roster.Firing != 1 || inc.Alerts[0].Status != bot.AlertFiring {
		t.Fatalf("status %s, roster %+v, alert %s: one empty answer after a firing one resolved the group", inc.Status, inc.Roster, inc.Alerts[0].Status)
	}
}

// TestSilenceCheckResolvesOnlyWhatWasAsked: a notification adds an alert
// while Alertmanager is being asked; the quiet answer covers only the
// alerts that fired when the bot asked, so the new one stays firing and
// the incident open.
func TestSilenceCheckResolvesOnlyWhatWasAsked(t *testing.T) {
	ctx := context.Background()
	svc, fs, sf, now := newSilenceService(t)
	id := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1))).Incident
	advance := silencedEngine(t, svc, fs, sf, id, *now, []string{"fp-pg-1"})
	advance(5*time.Minute, nil, 1)
	fs.mu.Lock()
	fs.onFiring = func() {
		if _, err := svc.Ingest(ctx, notification(leakAlert("pg-1", 0, -1), leakAlert("pg-2", 12, -1))); err != nil {
			t.Error(err)
		}
	}
	fs.mu.Unlock()
	advance(2*time.Minute, nil, 2)
	inc, _ := svc.Incident(ctx, id)
	status := map[string]bot.AlertStatus{}
	for _, a := range inc.Alerts {
		status[a.Labels["instance"]] = a.Status
	}
	if !inc.Open() || inc.Roster.Firing != 1 || status["pg-1"] != bot.AlertResolved || status["pg-2"] != bot.AlertFiring {
		t.Fatalf("status %s, roster %+v, alerts %v: want pg-1 resolved, pg-2 (added while asking) firing, incident open", inc.Status, inc.Roster, status)
	}

	// Alertmanager sends pg-1 again, same episode: the bot's own
	// resolution gives way, and the repeat of the last notification is
	// applied.
	mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1), leakAlert("pg-2", 12, -1)))
	inc, _ = svc.Incident(ctx, id)
	if inc.Roster.Firing != 2 {
		t.Fatalf("roster %+v after pg-1 fired again: want both firing", inc.Roster)
	}
}

// TestSilenceCheckResolvedAlertFiresAgain: the bot took the group for
// quiet and resolved the incident; when Alertmanager notifies the same
// episode firing after all, it opens an incident instead of being dropped
// as a late copy of a resolved alert.
func TestSilenceCheckResolvedAlertFiresAgain(t *testing.T) {
	ctx := context.Background()
	svc, fs, sf, now := newSilenceService(t)
	id := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1))).Incident
	advance := silencedEngine(t, svc, fs, sf, id, *now, []string{"fp-pg-1"})
	advance(5*time.Minute, nil, 1)
	advance(2*time.Minute, nil, 2)
	if inc, _ := svc.Incident(ctx, id); inc.Open() {
		t.Fatalf("still open after two quiet answers: %+v", inc.Roster)
	}
	res := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1)))
	if !res.Opened || res.Incident == id {
		t.Fatalf("ingest after the bot's resolution: %+v; want a new incident", res)
	}
	inc, _ := svc.Incident(ctx, res.Incident)
	if !inc.Open() || inc.Roster.Firing != 1 || inc.Alerts[0].Status != bot.AlertFiring {
		t.Fatalf("new incident: status %s, roster %+v", inc.Status, inc.Roster)
	}
	// A manual resolve keeps its meaning: the same episode firing again is
	// a late copy.
	if _, err := svc.Apply(ctx, res.Incident, bot.Action{Op: bot.OpResolve, Actor: "<@U1>"}); err != nil {
		t.Fatal(err)
	}
	if again := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1))); again.Opened {
		t.Errorf("a repeat after a manual resolve opened %+v", again)
	}
}
