package bot

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name, in string
		want     Command
		err      string
	}{
		{"empty is help", "", Command{Verb: "help"}, ""},
		{"help", "help", Command{Verb: "help"}, ""},
		{"list", "list", Command{Verb: "list"}, ""},
		{"declare with sev", "declare Checkout is down sev1", Command{Verb: "declare", Text: "Checkout is down", Severity: SEV1}, ""},
		{"declare keeps a trailing number", "declare Disk 2", Command{Verb: "declare", Text: "Disk 2"}, ""},
		{"declare without title", "declare sev2", Command{}, "declare needs a title"},
		{"declare sev space", "declare Card payments failing sev 1", Command{Verb: "declare", Text: "Card payments failing", Severity: SEV1}, ""},
		{"declare SEV-1", "declare Card payments failing SEV-1", Command{Verb: "declare", Text: "Card payments failing", Severity: SEV1}, ""},
		{"declare P2", "declare Card payments failing P2", Command{Verb: "declare", Text: "Card payments failing", Severity: SEV2}, ""},
		{"declare P5 is title", "declare Upgrade to P5", Command{Verb: "declare", Text: "Upgrade to P5"}, ""},
		{"declare trailing sev word alone", "declare Review the sev", Command{Verb: "declare", Text: "Review the sev"}, ""},
		{"sev two words", "sev sev 2", Command{Verb: "sev", Severity: SEV2}, ""},
		{"sev P1", "sev P1", Command{Verb: "sev", Severity: SEV1}, ""},
		{"status mitigated", "status mitigated", Command{Verb: "status", Status: StatusMonitoring}, ""},
		{"date and time after verb", "note 2024-06-20 14:10 deploy 4411 went out", Command{Verb: "note", When: "2024-06-20 14:10", Text: "deploy 4411 went out"}, ""},
		{"date and time before verb", "2024-06-20 14:10 ack", Command{Verb: "ack", When: "2024-06-20 14:10"}, ""},
		{"a date alone is text", "note 2024-06-20 was the day", Command{Verb: "note", Text: "2024-06-20 was the day"}, ""},
		{"ack", "ack", Command{Verb: "ack"}, ""},
		{"ack with time after verb", "ack 14:05", Command{Verb: "ack", When: "14:05"}, ""},
		{"time before verb", "14:05 ack", Command{Verb: "ack", When: "14:05"}, ""},
		{"sev", "sev 2", Command{Verb: "sev", Severity: SEV2}, ""},
		{"sev word", "sev SEV1", Command{Verb: "sev", Severity: SEV1}, ""},
		{"sev out of range", "sev 5", Command{}, `"5" is not a severity`},
		{"sev missing", "sev", Command{}, "sev needs one severity"},
		{"status", "status 16:00 monitoring", Command{Verb: "status", When: "16:00", Status: StatusMonitoring}, ""},
		{"status bad", "status fixed", Command{}, `"fixed" is not a status`},
		{"note keeps spacing", "note 14:10   traffic  is normal", Command{Verb: "note", When: "14:10", Text: "traffic  is normal"}, ""},
		{"note rfc3339", "note 2024-06-20T14:10:00Z checked", Command{Verb: "note", When: "2024-06-20T14:10:00Z", Text: "checked"}, ""},
		{"note with only a time has no text", "note 14:10", Command{}, "note needs text"},
		{"note unicode", "note 💥 heap × 3 — ok", Command{Verb: "note", Text: "💥 heap × 3 — ok"}, ""},
		{"lead", "lead <@U123|bob>", Command{Verb: "lead", Text: "<@U123|bob>"}, ""},
		{"action", "action Add memory alerts", Command{Verb: "action", Text: "Add memory alerts"}, ""},
		{"resolve with summary", "resolve 16:30 patched and restarted", Command{Verb: "resolve", When: "16:30", Text: "patched and restarted"}, ""},
		{"resolve bare", "resolve", Command{Verb: "resolve"}, ""},
		{"reopen", "reopen", Command{Verb: "reopen"}, ""},
		{"runbook", "runbook memory-leak", Command{Verb: "runbook", Text: "memory-leak"}, ""},
		{"runbook two names", "runbook a b", Command{}, "at most one name"},
		{"timeline takes nothing", "timeline now", Command{}, "takes no arguments"},
		{"list takes no time", "14:05 list", Command{}, "does not take a time"},
		{"silence bare", "silence", Command{Verb: "silence"}, ""},
		{"silence with duration and comment", "silence 30m  deploying fix", Command{Verb: "silence", For: 30 * time.Minute, Text: "deploying fix"}, ""},
		{"silence comment only", "silence known noisy", Command{Verb: "silence", Text: "known noisy"}, ""},
		{"silence days", "silence 1d", Command{Verb: "silence", For: 24 * time.Hour}, ""},
		{"silence over the bound", "silence 8d", Command{}, "from 1m to 7d"},
		{"silence bad unit", "silence 2x flaky", Command{}, `unit "x"`},
		{"silence takes no time", "14:05 silence", Command{}, "does not take a time"},
		{"unsilence", "unsilence", Command{Verb: "unsilence"}, ""},
		{"unsilence takes nothing", "unsilence now", Command{}, "takes no arguments"},
		{"uppercase verb", "ACK", Command{Verb: "ack"}, ""},
		{"unknown", "explode", Command{}, `unknown subcommand "explode"`},
		{"invalid utf8", "note \xff", Command{}, "not valid UTF-8"},
		{"too long", "note " + strings.Repeat("x", MaxCommandText), Command{}, "longer than"},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: ParseCommand(%q) err = %v, want ErrInvalid containing %q", tt.name, tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: ParseCommand(%q) = %+v, %v; want %+v", tt.name, tt.in, got, err, tt.want)
		}
	}
}

func TestCommandErrorsCarryUsage(t *testing.T) {
	_, err := ParseCommand("status")
	if err == nil || !strings.Contains(err.Error(), Usage("status")) {
		t.Fatalf("ParseCommand(status) err = %v, want the usage line %q", err, Usage("status"))
	}
}

func TestCommandAction(t *testing.T) {
	c, err := ParseCommand("cause 15:40 leak in the payment gateway client pool")
	if err != nil {
		t.Fatal(err)
	}
	a, ok := c.Action("<@U1>")
	want := Action{Op: OpCause, Actor: "<@U1>", When: "15:40", Text: "leak in the payment gateway client pool"}
	if !ok || a != want {
		t.Fatalf("Action = %+v, %v; want %+v", a, ok, want)
	}
	if _, ok := (Command{Verb: "list"}).Action("x"); ok {
		t.Fatal("list must not be an action")
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "declare x sev1", "14:05 ack", "note 14:05 a b", "status monitoring", "sev 9", "lead <@U1>", "\xff", "note 2024-06-20 14:05 a\x00b", "declare x sev 1", "runbook memory-leak"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCommand(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseCommand(%q): %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if Usage(c.Verb) == "" {
			t.Fatalf("ParseCommand(%q) gave unknown verb %q", s, c.Verb)
		}
		if c.Verb == "sev" && !c.Severity.Valid() {
			t.Fatalf("ParseCommand(%q) gave sev without a valid severity", s)
		}
		if strings.ContainsFunc(c.Text+c.When, func(r rune) bool { return r != '\n' && unwanted(r) }) {
			t.Fatalf("ParseCommand(%q) kept a control character: %+v", s, c)
		}
	})
}

func TestParseSeverityWords(t *testing.T) {
	for in, want := range map[string]Severity{"1": SEV1, "sev1": SEV1, "SEV1": SEV1, "SEV-2": SEV2, "sev 3": SEV3, "sev_4": SEV4, "P1": SEV1, "p4": SEV4} {
		if got, err := ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "5", "sev", "p", "P-1", "sev+1", "1.0", "sev1x", "critical", "P 1x"} {
		if got, err := ParseSeverity(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSeverity(%q) = %v, %v; want ErrInvalid", in, got, err)
		}
	}
}
