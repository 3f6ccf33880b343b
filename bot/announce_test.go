package bot

import (
	"testing"
	"time"
)

func TestPostLineSaysWhoAndWhen(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	detected := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	now := time.Date(2024, 6, 20, 16, 0, 0, 0, time.UTC)
	inc := &Incident{ID: 1, DetectedAt: detected}
	tests := []struct {
		name string
		e    TimelineEntry
		loc  *time.Location
		want string
	}{
		{"typed now", TimelineEntry{At: now, RecordedAt: now, Actor: "U0ALICE", Text: "restarted pg-1"}, time.UTC,
			"restarted pg-1 — <@U0ALICE> · 16:00 UTC"},
		{"typed with a time", TimelineEntry{At: detected.Add(10 * time.Minute), RecordedAt: now, Actor: "<@U0ALICE|alice>", Text: "Initial theory: traffic"}, time.UTC,
			"Initial theory: traffic — <@U0ALICE> · 14:10 UTC (backdated)"},
		{"in the configured zone", TimelineEntry{At: detected.Add(10 * time.Minute), RecordedAt: now, Actor: "U0ALICE", Text: "x"}, berlin,
			"x — <@U0ALICE> · 16:10 CEST (backdated)"},
		{"before detection, another day", TimelineEntry{At: detected.Add(-26 * time.Hour), RecordedAt: now, Actor: "U0ALICE", Text: "deploy 4411"}, time.UTC,
			"deploy 4411 — <@U0ALICE> · Jun 19 12:00 UTC (backdated, before detection)"},
		{"text already names the actor", TimelineEntry{At: now, RecordedAt: now, Actor: "U0BOB", Text: "acknowledged by <@U0BOB>"}, time.UTC,
			"acknowledged by <@U0BOB> — 16:00 UTC"},
		{"alerts carry their own time and are not backdated", TimelineEntry{At: detected, RecordedAt: now, Actor: ActorAlertmanager, Text: "MemoryLeak fired"}, time.UTC,
			"MemoryLeak fired — alertmanager · 14:00 UTC"},
		{"multi-line text stays on its line", TimelineEntry{At: now, RecordedAt: now, Actor: "U0ALICE", Text: "one\ntwo"}, time.UTC,
			"one two — <@U0ALICE> · 16:00 UTC"},
	}
	for _, tt := range tests {
		if got := PostLine(inc, tt.e, now, tt.loc); got != tt.want {
			t.Errorf("%s: PostLine = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPeopleHaveOneForm(t *testing.T) {
	for in, want := range map[string]string{"U0ALICE": "U0ALICE", "<@U0ALICE>": "U0ALICE", "<@U0ALICE|alice>": "U0ALICE", " <@W012|x y> ": "W012",
		"alertmanager": "", "bob": "", "<!channel>": "", "<@U0ALICE|a>b>": "", "": ""} {
		if got := PersonID(in); got != want {
			t.Errorf("PersonID(%q) = %q, want %q", in, got, want)
		}
	}
	if got := NormalizeMentions("ask <@U1|alice> and <@U2>, not <!here>"); got != "ask <@U1> and <@U2>, not <!here>" {
		t.Errorf("NormalizeMentions = %q", got)
	}
}
