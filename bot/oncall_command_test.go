package bot

import (
	"errors"
	"testing"
	"time"
)

func TestParseOnCallCommand(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	now := time.Date(2026, 12, 2, 16, 30, 0, 0, time.UTC) // 17:30 in Berlin
	for _, tc := range []struct {
		text              string
		team, sched, user string
		override          bool
		start, end        string
		err               bool
	}{
		{text: ""},
		{text: "payments", team: "payments"},
		{text: "override <@U0ALICE|alice> for 2h", override: true, user: "U0ALICE", start: "2026-12-02T16:30:00Z", end: "2026-12-02T18:30:00Z"},
		{text: "override <@U0ALICE> payments/secondary for 3d", override: true, user: "U0ALICE", team: "payments", sched: "secondary",
			start: "2026-12-02T16:30:00Z", end: "2026-12-05T16:30:00Z"},
		// 18:00 in Berlin is later today; 09:00 is tomorrow.
		{text: "override <@U0ALICE> payments until 18:00", override: true, user: "U0ALICE", team: "payments", start: "2026-12-02T16:30:00Z", end: "2026-12-02T17:00:00Z"},
		{text: "override <@U0ALICE> until 09:00", override: true, user: "U0ALICE", start: "2026-12-02T16:30:00Z", end: "2026-12-03T08:00:00Z"},
		{text: "override <@U0ALICE> until 2026-12-24 09:00", override: true, user: "U0ALICE", start: "2026-12-02T16:30:00Z", end: "2026-12-24T08:00:00Z"},
		{text: "override U0BOB for 90m", override: true, user: "U0BOB", start: "2026-12-02T16:30:00Z", end: "2026-12-02T18:00:00Z"},
		{text: "payments search", err: true},
		{text: "override", err: true},
		{text: "override alice for 2h", err: true},
		{text: "override <@U0ALICE>", err: true},
		{text: "override <@U0ALICE> for", err: true},
		{text: "override <@U0ALICE> for -2h", err: true},
		{text: "override <@U0ALICE> for 0d", err: true},
		{text: "override <@U0ALICE> for soon", err: true},
		{text: "override <@U0ALICE> until 2020-01-01 00:00", err: true},
		{text: "override <@U0ALICE> payments during 2h", err: true},
		{text: "override <@U0ALICE|x> for 2h <!channel>", err: true},
	} {
		c, err := ParseOnCallCommand(tc.text, now, berlin)
		if tc.err {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%q: err = %v, want ErrInvalid", tc.text, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.text, err)
			continue
		}
		if c.Team != tc.team || c.Schedule != tc.sched || c.User != tc.user || c.Override != tc.override {
			t.Errorf("%q = %+v", tc.text, c)
		}
		if tc.override && (c.Start.Format(time.RFC3339) != tc.start || c.End.Format(time.RFC3339) != tc.end) {
			t.Errorf("%q: window %s..%s, want %s..%s", tc.text, c.Start.Format(time.RFC3339), c.End.Format(time.RFC3339), tc.start, tc.end)
		}
	}
}

func FuzzParseOnCallCommand(f *testing.F) {
	for _, s := range []string{"", "payments", "override <@U0A|a> payments/primary for 2h", "override U0A until 18:00", "override <@U0A> until 2026-12-24 09:00"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 2, 16, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseOnCallCommand(s, now, time.UTC)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if c.Override && (!c.End.After(c.Start) || c.User == "") {
			t.Fatalf("%q: override %+v", s, c)
		}
	})
}
