package bot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeHandOffer struct {
	mu   sync.Mutex
	got  []HandOff
	fail []error
}

func (f *fakeHandOffer) HandOff(_ context.Context, h HandOff) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		return err
	}
	f.got = append(f.got, h)
	return nil
}

func (f *fakeHandOffer) all() []HandOff {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]HandOff(nil), f.got...)
}

func TestHandOffs(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{})
	team := &h.oc.Teams[0]
	team.UserGroup, team.Channel = "S0PAY", "C0PAY"
	ho := &fakeHandOffer{fail: []error{errors.New("slack is down")}}
	start := func() {
		h.restart(EngineOptions{HandOffer: ho})
		h.must(h.eng.seedHandOffs(context.Background()))
		h.run()
	}
	h.open() // INC-1 matches payments
	start()
	// The first try failed; the retry comes after the back-off.
	if got := ho.all(); len(got) != 0 {
		t.Fatalf("hand-offs before the retry: %+v", got)
	}
	h.advance(5 * time.Second)
	got := ho.all()
	if len(got) != 1 || strings.Join(got[0].Users, ",") != "UA,UC" || got[0].UserGroup != "S0PAY" || got[0].Channel != "C0PAY" ||
		got[0].Text != "Hand-off for payments: primary <@UA>, secondary <@UC>; open incidents: INC-1." {
		t.Fatalf("first hand-off = %+v", got)
	}
	// A restart does not start a second chain.
	start()
	start()
	// The shifts change at 09:00 on the 21st (the clock is 14:00:05 on the 20th).
	h.advance(18*time.Hour + 59*time.Minute + 54*time.Second)
	if n := len(ho.all()); n != 1 {
		t.Fatalf("%d hand-offs before 09:00, want 1", n)
	}
	h.advance(time.Second)
	got = ho.all()
	if len(got) != 2 || strings.Join(got[1].Users, ",") != "UB,UC" ||
		got[1].Text != "Hand-off for payments: primary <@UB> (was <@UA>), secondary <@UC>; open incidents: INC-1." {
		t.Fatalf("hand-offs = %+v", got)
	}
	// An override hands off at its start and its end.
	now := h.clock.Now()
	if _, err := h.svc.AddOverride(context.Background(), "payments", "primary", "UZ", now.Add(time.Hour), now.Add(2*time.Hour), "<@UZ>"); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Hour)
	h.advance(time.Hour)
	got = ho.all()
	if len(got) != 4 || !strings.Contains(got[2].Text, "primary <@UZ> (was <@UB>)") || !strings.Contains(got[3].Text, "primary <@UB> (was <@UZ>)") {
		t.Fatalf("override hand-offs = %+v", got[2:])
	}
	// Each day: one chain, one hand-off.
	h.advance(22 * time.Hour)
	h.advance(24 * time.Hour)
	if n := len(ho.all()); n != 6 {
		t.Errorf("%d hand-offs after two more days, want 6", n)
	}
}
