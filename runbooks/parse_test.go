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
			want: []bot.RunbookStep{{N: 1, Text: "Look."}, {N: 2, Text: "Fix."}},
		},
		{
			name:      "intro before step 1, headings dropped",
			body:      "# Disk full\n\nThe disk fills up\nwhen logs rotate badly.\n\n## Steps\n\n1. Look.\n",
			wantIntro: "The disk fills up when logs rotate badly.",
			want:      []bot.RunbookStep{{N: 1, Text: "Look."}},
		},
		{
			name: "sh block is the command",
			body: "1. See which volume is full.\n\n    ```sh\n    df -h\n      | sort\n    ```\n",
			want: []bot.RunbookStep{{N: 1, Text: "See which volume is full.", Command: "df -h\n  | sort"}},
		},
		{
			name: "bash, shell and console blocks are commands too, joined",
			body: "1. Look.\n   ```bash\n   df -h\n   ```\n   ```console\n   du -sh /var\n   ```\n",
			want: []bot.RunbookStep{{N: 1, Text: "Look.", Command: "df -h\ndu -sh /var"}},
		},
		{
			name: "$ line is the command, with backslash continuation",
			body: "1. Find big files.\n   $ du -xh /var \\\n       | sort -h\n   $ df -h\n",
			want: []bot.RunbookStep{{N: 1, Text: "Find big files.", Command: "du -xh /var \\\n  | sort -h\ndf -h"}},
		},
		{
			name: "promql block is the query",
			body: "1. Watch the fill rate.\n\n   ```promql\n   predict_linear(node_filesystem_avail_bytes[1h], 4 * 3600) < 0\n   ```\n",
			want: []bot.RunbookStep{{N: 1, Text: "Watch the fill rate.", Query: "predict_linear(node_filesystem_avail_bytes[1h], 4 * 3600) < 0"}},
		},
		{
			name: "bare URL is the link",
			body: "1. Open the dashboard.\n   https://grafana.example/d/disk\n",
			want: []bot.RunbookStep{{N: 1, Text: "Open the dashboard.", Link: "https://grafana.example/d/disk"}},
		},
		{
			name: "Markdown link is the link; a second one stays guidance",
			body: "1. Open the dashboard.\n\n   [Disk dashboard](https://grafana.example/d/disk)\n\n   <https://wiki.example/disk>\n",
			want: []bot.RunbookStep{{N: 1, Text: "Open the dashboard.", Link: "https://grafana.example/d/disk", Guidance: "<https://wiki.example/disk>"}},
		},
		{
			name: "link inside the text when there is no link line",
			body: "1. Open [the dashboard](https://grafana.example/d/disk) and look.\n2. See https://wiki.example/disk.\n",
			want: []bot.RunbookStep{
				{N: 1, Text: "Open [the dashboard](https://grafana.example/d/disk) and look.", Link: "https://grafana.example/d/disk"},
				{N: 2, Text: "See https://wiki.example/disk.", Link: "https://wiki.example/disk"},
			},
		},
		{
			name: "paragraphs under and between steps are guidance of the step before",
			body: "1. Look.\n\n   Under the step,\n   wrapped.\n\nBetween the steps.\n\n2. Fix.\n",
			want: []bot.RunbookStep{{N: 1, Text: "Look.", Guidance: "Under the step, wrapped.\n\nBetween the steps."}, {N: 2, Text: "Fix."}},
		},
		{
			name: "wrapped step text is one line; lists in guidance keep their shape",
			body: "1. Look at the disk\n   and at the inodes.\n\n   - df -h for space,\n     df -i for inodes;\n   - du for folders.\n",
			want: []bot.RunbookStep{{N: 1, Text: "Look at the disk and at the inodes.", Guidance: "- df -h for space, df -i for inodes;\n- du for folders."}},
		},
		{
			name: "a line under the step that starts a sentence is guidance",
			body: "1. Check recent deploys\n   Look at the deploy dashboard.\n2. Check the disk.\n   it fills up at night.\n",
			want: []bot.RunbookStep{
				{N: 1, Text: "Check recent deploys", Guidance: "Look at the deploy dashboard."},
				{N: 2, Text: "Check the disk.", Guidance: "it fills up at night."},
			},
		},
		{
			name: "step text on the line after the number",
			body: "1.\n   Check the disk\n   usage.\n",
			want: []bot.RunbookStep{{N: 1, Text: "Check the disk usage."}},
		},
		{
			name: "other code blocks stay in the guidance, untouched",
			body: "1. Add an alert.\n\n   ```yaml\n   - alert: DiskFull\n\n     expr: up == 0\n   ```\n",
			want: []bot.RunbookStep{{N: 1, Text: "Add an alert.", Guidance: "```yaml\n- alert: DiskFull\n\n  expr: up == 0\n```"}},
		},
		{
			name:      "numbered lines inside a fence are not steps",
			body:      "Example:\n\n```\n1. not a step\n```\n\n1. A step.\n",
			wantIntro: "Example:\n\n```\n1. not a step\n```",
			want:      []bot.RunbookStep{{N: 1, Text: "A step."}},
		},
		{
			name: "1) style and tildes",
			body: "1) Look.\n   ~~~sh\n   df -h\n   ~~~\n2) Fix.\n",
			want: []bot.RunbookStep{{N: 1, Text: "Look.", Command: "df -h"}, {N: 2, Text: "Fix."}},
		},
		{
			name: "tabs and CRLF",
			body: "1. Look.\r\n\t```sh\r\n\tdf -h\r\n\t```\r\n",
			want: []bot.RunbookStep{{N: 1, Text: "Look.", Command: "df -h"}},
		},
		{
			name: "everything at once",
			body: "1. Check the fill rate.\n\n    ```promql\n    rate(x[5m])\n    ```\n\n    ```sh\n    df -h\n    ```\n\n    https://grafana.example/d/disk\n\n    Below zero means it is filling.\n",
			want: []bot.RunbookStep{{N: 1, Text: "Check the fill rate.", Query: "rate(x[5m])", Command: "df -h", Link: "https://grafana.example/d/disk", Guidance: "Below zero means it is filling."}},
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
