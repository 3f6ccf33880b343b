package bot_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// nopPager accepts every page at once.
type nopPager struct{}

func (nopPager) Via() string                                 { return bot.ViaSlack }
func (nopPager) Send(context.Context, bot.PageMessage) error { return nil }

// TestTimerLoad measures the engine on a real bbolt file. Each case is
// "pending:firing": pending escalation runs whose first step is an hour
// away (they only sit in the index), and firing runs whose first step is
// due spread over 30 s; each firing step pages (a no-op pager) and leaves
// its second step pending an hour later. It reports the heap with the
// engine running and every timer written (against the same process before
// they were written) and how late each first step fired.
//
//	INCIDENTBOT_TIMER_LOAD=0:100,10000:100,0:10000 go test ./bot -run TestTimerLoad -v
func TestTimerLoad(t *testing.T) {
	spec := os.Getenv("INCIDENTBOT_TIMER_LOAD")
	if spec == "" {
		t.Skip("set INCIDENTBOT_TIMER_LOAD=100,10000 to measure")
	}
	for f := range strings.SplitSeq(spec, ",") {
		p, fi, _ := strings.Cut(f, ":")
		pending, err1 := strconv.Atoi(p)
		firing, err2 := strconv.Atoi(fi)
		if err1 != nil || err2 != nil || firing < 1 {
			t.Fatalf("case %q: want pending:firing", f)
		}
		t.Run(f, func(t *testing.T) { timerLoad(t, pending, firing, 30*time.Second) })
	}
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func timerLoad(t *testing.T, pending, n int, window time.Duration) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "load.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	oc := &bot.OnCall{Teams: []bot.Team{{Name: "load", Escalation: bot.Escalation{Steps: []bot.EscalationStep{
		{Notify: []bot.Target{{Kind: bot.TargetUser, Ref: "U0LOAD"}}},
		{After: time.Hour, Notify: []bot.Target{{Kind: bot.TargetUser, Ref: "U0LOAD"}}},
	}}}}}
	svc := bot.NewService(st, bot.Options{OnCall: oc})
	ctx := context.Background()
	base := heapInuse()
	// The runs start between 5s and 5s+window from now: writing them takes
	// a few seconds, and every first step must still be in the future.
	first := time.Now().Add(5 * time.Second)
	for i := 0; i < pending+n; i += 500 {
		err := st.Update(ctx, func(tx bot.Tx) error {
			for j := i; j < min(i+500, pending+n); j++ {
				inc := &bot.Incident{Title: fmt.Sprintf("load %d", j), Status: bot.StatusInvestigating, Severity: bot.SEV3}
				if err := tx.CreateIncident(inc); err != nil {
					return err
				}
				at := first.Add(time.Hour + time.Duration(j)*time.Millisecond)
				if j >= pending {
					at = first.Add(time.Duration(j-pending) * window / time.Duration(n))
				}
				r := &bot.EscalationRun{IncidentID: inc.ID, Team: "load", StartedAt: at, StartedBy: "load"}
				if err := tx.CreateEscalation(r); err != nil {
					return err
				}
				if err := tx.AddTimer(&bot.Timer{Due: at, Kind: bot.TimerStep, IncidentID: inc.ID, Escalation: r.ID, CreatedAt: at}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if time.Now().After(first) {
		t.Fatalf("writing %d runs took past the first due time", n)
	}
	var mu sync.Mutex
	var late []time.Duration
	done := make(chan struct{})
	sent := 0
	// Every page goes to U0LOAD: grouping is off, so that each firing
	// still costs its own send (the load this measures).
	eng := bot.NewEngine(svc, bot.EngineOptions{Pagers: []bot.Pager{nopPager{}}, GroupWindow: -1, OnFire: func(k bot.TimerKind, d time.Duration) {
		if k == bot.TimerStep {
			mu.Lock()
			late = append(late, d)
			mu.Unlock()
		}
	}, OnPage: func(string, error) {
		mu.Lock()
		defer mu.Unlock()
		if sent++; sent == n {
			close(done)
		}
	}})
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { _ = eng.Run(rctx); close(stopped) }()
	withTimers := heapInuse()
	select {
	case <-done:
	case <-time.After(window + time.Minute):
		t.Errorf("only %d of %d pages sent", sent, n)
	}
	cancel() // Run returns once the sends in flight have recorded their outcome

	<-stopped
	slices.Sort(late)
	q := func(p float64) time.Duration {
		return late[min(len(late)-1, int(p*float64(len(late))))].Round(time.Millisecond)
	}
	left := map[bot.TimerKind]int{}
	_ = st.View(ctx, func(tx bot.Tx) error {
		due, err := tx.DueTimers(time.Now().Add(3*time.Hour), 0)
		for _, tm := range due {
			left[tm.Kind]++
		}
		return err
	})
	stats := st.Stats()
	t.Logf("%d pending + %d firing over %s: heap %.1f MB before writing, %.1f MB with the engine running over %d timers; "+
		"lateness p50 %s p90 %s p99 %s max %s; timers left %v; %d commits of %d updates",
		pending, n, window, float64(base)/1e6, float64(withTimers)/1e6, pending+n, q(0.5), q(0.9), q(0.99),
		late[len(late)-1].Round(time.Millisecond), left, stats.Commits, stats.Updates)
	if left[bot.TimerStep] != pending+n || left[bot.TimerPage] != 0 {
		t.Errorf("timers left %v, want %d steps (the pending first steps and each fired run's second) and no page", left, pending+n)
	}
}
