package runbooks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
)

// front is valid front matter for tests that are about the body.
const front = "---\nname: disk-full\ntitle: Disk full\nmatch: alertname=\"DiskFull\"\n---\n"

func TestParseBody(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantIntro string
		want      []bot.RunbookStep
	}{
		{
			name: "plain steps",
			body: "1. Look.\n2. Fix.\n",
			want: []bot.RunbookStep{{N: 1, Text: "Look.", Markdown: "Look."}, {N: 2, Text: "Fix.", Markdown: "Fix."}},
		},
		{
			name:      "intro before step 1 is kept as written",
			body:      "# Disk full\n\nThe disk fills up\nwhen logs rotate badly.\n\n1. Look.\n",
			wantIntro: "# Disk full\n\nThe disk fills up\nwhen logs rotate badly.",
			want:      []bot.RunbookStep{{N: 1, Text: "Look.", Markdown: "Look."}},
		},
		{
			name: "code under a step keeps its lines and its fence, moved left",
			body: "1. See which volume is full.\n\n    ```sh\n    df -h\n      | sort\n    ```\n",
			want: []bot.RunbookStep{{N: 1, Text: "See which volume is full.", Markdown: "See which volume is full.\n\n```sh\ndf -h\n  | sort\n```"}},
		},
		{
			name: "wrapped step text is one line of plain text; markup stays in the Markdown",
			body: "1. Look at the **disk**\n   and at the `inodes` [docs](https://x.example/d).\n",
			want: []bot.RunbookStep{{N: 1, Text: "Look at the disk and at the inodes docs.", Markdown: "Look at the **disk**\nand at the `inodes` [docs](https://x.example/d)."}},
		},
		{
			name: "paragraphs between steps belong to the step before; headings between steps are left out",
			body: "1. Look.\n\n   Under the step.\n\nBetween the steps.\n\n## Then\n\n2. Fix.\n",
			want: []bot.RunbookStep{{N: 1, Text: "Look.", Markdown: "Look.\n\nUnder the step.\n\nBetween the steps."}, {N: 2, Text: "Fix.", Markdown: "Fix."}},
		},
		{
			name: "nested lists keep their shape",
			body: "1. Look.\n\n   - df -h for space,\n     - df -i for inodes;\n   - du for folders.\n2. Two.\n",
			want: []bot.RunbookStep{
				{N: 1, Text: "Look.", Markdown: "Look.\n\n- df -h for space,\n  - df -i for inodes;\n- du for folders."},
				{N: 2, Text: "Two.", Markdown: "Two."},
			},
		},
		{
			name:      "numbered lines inside a fence are not steps",
			body:      "Example:\n\n```\n1. not a step\n```\n\n1. A step.\n",
			wantIntro: "Example:\n\n```\n1. not a step\n```",
			want:      []bot.RunbookStep{{N: 1, Text: "A step.", Markdown: "A step."}},
		},
		{
			name: "1) style and tildes",
			body: "1) Look.\n   ~~~sh\n   df -h\n   ~~~\n2) Fix.\n",
			want: []bot.RunbookStep{{N: 1, Text: "Look.", Markdown: "Look.\n~~~sh\ndf -h\n~~~"}, {N: 2, Text: "Fix.", Markdown: "Fix."}},
		},
		{
			name: "tabs and CRLF",
			body: "1. Look.\r\n\t```sh\r\n\tdf -h\r\n\t```\r\n",
			want: []bot.RunbookStep{{N: 1, Text: "Look.", Markdown: "Look.\n```sh\ndf -h\n```"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb, probs := parse("disk-full.md", []byte(front+tt.body))
			if len(probs) > 0 {
				t.Fatalf("parse(%q): problems %v", tt.body, probs)
			}
			if rb.Intro != tt.wantIntro {
				t.Errorf("parse(%q): intro\n got %q\nwant %q", tt.body, rb.Intro, tt.wantIntro)
			}
			if got, want := jsonOf(rb.Steps), jsonOf(tt.want); got != want {
				t.Errorf("parse(%q): steps\n got %s\nwant %s", tt.body, got, want)
			}
		})
	}
}

func TestParseFrontMatter(t *testing.T) {
	tests := []struct {
		name         string
		front        string
		wantName     string
		wantTitle    string
		wantSets     int
		wantURLs     []string
		wantSeverity bot.Severity
	}{
		{name: "match as a string", front: "name: a\ntitle: A\nmatch: alertname=\"A\", job=\"x\"\n", wantName: "a", wantTitle: "A", wantSets: 1},
		{name: "match as a list", front: "name: a\ntitle: A\nmatch:\n  - alertname=\"A\"\n  - '{alertname=\"B\"}'\n", wantName: "a", wantTitle: "A", wantSets: 2},
		{name: "runbook_urls without match", front: "name: a\ntitle: A\nrunbook_urls: [wiki.example/a, /runbooks/a-old]\n", wantName: "a", wantTitle: "A", wantURLs: []string{"wiki.example/a", "/runbooks/a-old"}},
		{name: "severity hint", front: "name: a\ntitle: A\nmatch: alertname=\"A\"\nseverity: sev2\n", wantName: "a", wantTitle: "A", wantSets: 1, wantSeverity: bot.SEV2},
		{name: "quoted title with a colon", front: "name: a\ntitle: \"A: the thing\"\nmatch: alertname=\"A\"\n", wantName: "a", wantTitle: "A: the thing", wantSets: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "---\n" + tt.front + "---\n1. Do it.\n"
			rb, probs := parse("a.md", []byte(in))
			if len(probs) > 0 {
				t.Fatalf("parse(%q): problems %v", in, probs)
			}
			got := []any{rb.Name, rb.Title, len(rb.sets), strings.Join(rb.urls, " "), rb.severity, rb.Source}
			want := []any{tt.wantName, tt.wantTitle, tt.wantSets, strings.Join(tt.wantURLs, " "), tt.wantSeverity, "a.md"}
			if jsonOf(got) != jsonOf(want) {
				t.Errorf("parse(%q)\n got name, title, sets, urls, severity, source = %s\nwant %s", in, jsonOf(got), jsonOf(want))
			}
		})
	}
}

// TestParseNeverPanics covers inputs the fuzzer found or might; the fuzz
// target explores further.
func TestParseNeverPanics(t *testing.T) {
	for _, in := range []string{
		"", "---", "---\n", "---\n---", "---\n---\n", "\uFEFF---\n---\n1.",
		"---\n*a\n---\n", "---\n&a [*a]\n---\n", "---\nname: &n a\ntitle: *n\nmatch: *n\n---\n1. x",
		"---\n? [a]\n: b\n---\n", "---\nmatch: [[a]]\n---\n", "---\nmatch: {a: b}\n---\n",
		"---\nname: a\n---\n99999999999999999999. x\n", "---\nname: a\n---\n1. x\n   ```\n",
		"---\nname: a\n---\n1. x\n   $ a \\", "---\n" + strings.Repeat("[", 10000) + "\n---\n",
		"---\nmatch: 'a=~\"(\"'\n---\n", "---\nmatch: '{}'\n---\n", "---\nmatch: ','\n---\n",
	} {
		rb, _ := parse("x.md", []byte(in))
		rb.matches(bot.Alert{Labels: map[string]string{"alertname": "a"}, Annotations: map[string]string{"runbook_url": "x/a"}})
	}
}

// TestParseLargeInputs guards against work that grows with the square of
// the input: each of these would take minutes if it did.
func TestParseLargeInputs(t *testing.T) {
	n := maxFileSize / 8
	for name, body := range map[string]string{
		"long paragraph":    "1. x\n" + strings.Repeat("   a\n", n/2),
		"many steps":        strings.Repeat("1. x\n", n/3),
		"many $ lines":      "1. x\n" + strings.Repeat("   $ a \\\n", n/3),
		"unclosed fences":   strings.Repeat("1. x\n   ```\n", n/4),
		"long front matter": "",
	} {
		in := front + body
		if name == "long front matter" {
			in = "---\nname: a\ntitle: " + strings.Repeat("a ", n) + "\nmatch: a=b\n---\n1. x\n"
		}
		if len(in) > maxFileSize {
			t.Fatalf("%s: input of %d bytes is over the limit", name, len(in))
		}
		parse("big.md", []byte(in))
	}
}

func TestParseTooLarge(t *testing.T) {
	in := front + "1. x\n" + strings.Repeat("a", maxFileSize)
	_, probs := parse("big.md", []byte(in))
	if len(probs) != 1 || !strings.Contains(probs[0].Msg, "larger than") {
		t.Errorf("parse(%d bytes): got %v, want one problem about the size", len(in), probs)
	}
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
