package bot

import (
	"strings"
	"testing"
)

// hostile is text from outside that tries to break out of its place.
var hostile = []struct{ name, in string }{
	{"newline and heading", "MemoryLeak\n## Root Cause\nit was DNS"},
	{"table pipe", "a | b | c"},
	{"escaped pipe", `a\| b \\| c`},
	{"trailing backslash", `cell\`},
	{"html", `<img src=x onerror=alert(1)><script>x</script>`},
	{"nul and escape", "ok\x00\x1b[31mred\x07"},
	{"bidi override", "admin\u202egnp.exe"},
	{"zero width", "pay\u200bpal\ufeff"},
	{"leading list and quote", "- not a list"},
	{"leading heading", "# not a heading"},
	{"backticks", "`rm -rf /`"},
	{"carriage return", "line\r\n---\r\nhr"},
	{"link", "[runbook](https://evil.example/x)"},
	{"image", "![](https://tracker.example/p.png)"},
	{"autolink", "<https://evil.example>"},
}

// cellBorders counts the | that end a cell, the way GFM splits a table
// row: a backslash escapes the character after it, a backslash too.
func cellBorders(row string) int {
	n := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n
}

// opensLink reports an unescaped [ (a link or image to come).
func opensLink(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			return true
		}
	}
	return false
}

// TestMarkdownEscaping: each output of the draft, with each hostile text.
func TestMarkdownEscaping(t *testing.T) {
	for _, tt := range hostile {
		for name, f := range map[string]func(string) string{"line": MarkdownLine, "cell": MarkdownCell} {
			got := f(tt.in)
			if strings.ContainsAny(got, "\n\r\x00\x1b\x07\u202e\u200b\ufeff") {
				t.Errorf("%s: Markdown%s(%q) = %q keeps a line break or a control character", tt.name, name, tt.in, got)
			}
			if strings.ContainsAny(got, "<>") {
				t.Errorf("%s: Markdown%s(%q) = %q keeps raw HTML", tt.name, name, tt.in, got)
			}
			if strings.HasPrefix(got, "#") || strings.HasPrefix(got, "-") {
				t.Errorf("%s: Markdown%s(%q) = %q can start a heading or list", tt.name, name, tt.in, got)
			}
			if opensLink(got) {
				t.Errorf("%s: Markdown%s(%q) = %q can open a link or an image", tt.name, name, tt.in, got)
			}
			if name == "cell" && cellBorders("| "+got+" |") != 2 {
				t.Errorf("%s: MarkdownCell(%q) = %q has a | that ends the cell", tt.name, tt.in, got)
			}
		}
	}
}

// TestMarkdownKeepsText: escaping shows the text as it was written.
func TestMarkdownKeepsText(t *testing.T) {
	for _, tt := range []struct{ in, line, cell string }{
		{`C:\tmp a|b`, `C:\\tmp a|b`, `C:\\tmp a\|b`},
		{"x < y && [z]", `x &lt; y && \[z]`, `x &lt; y && \[z]`},
		{"# 1", `\# 1`, `\# 1`},
	} {
		if got := MarkdownLine(tt.in); got != tt.line {
			t.Errorf("MarkdownLine(%q) = %q, want %q", tt.in, got, tt.line)
		}
		if got := MarkdownCell(tt.in); got != tt.cell {
			t.Errorf("MarkdownCell(%q) = %q, want %q", tt.in, got, tt.cell)
		}
	}
}

func TestDraftTableHoldsHostileAlertName(t *testing.T) {
	inc, tl := midnightIncident()
	inc.Alerts[0].Labels["alertname"] = "Leak | x |\n## Root Cause\nfake"
	inc.Alerts[0].Labels["team"] = "a|b`c"
	md := Draft(inc, tl, nil, inc.DetectedAt).Markdown()
	if strings.Count(md, "\n## Root Cause") != 1 {
		t.Errorf("an alert name added a heading to the draft:\n%s", md)
	}
	for line := range strings.SplitSeq(md, "\n") {
		if strings.Contains(line, "Leak") && strings.HasPrefix(line, "| ") {
			if cells := strings.Count(line, "|") - strings.Count(line, `\|`); cells != 5 {
				t.Errorf("alerts row has %d cell borders, want 5: %s", cells, line)
			}
		}
	}
}

// TestCleanText: the one inbound rule. Tab and newline stay; CR becomes a
// newline; controls, bidi formatting and invisible characters go; joiners
// stay; nothing is trimmed.
func TestCleanText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"ok", "ok"},
		{"  note\x00 one\r\ntwo\t3 ", "  note one\ntwo\t3 "},
		{"a\rb", "a\nb"},
		{"\u202eevil\u2066x\u2069", "evilx"},
		{"\x1b[2J\x7f\u0085\u009b", "[2J"},
		{"pay\u200bpal\u2060\ufeff\u00ad\u200e\u200f\u061c", "paypal"},
		{"👨\u200d👩\u200d👧 \u200cزیبا", "👨\u200d👩\u200d👧 \u200cزیبا"},
		{"multi\nline\n\tindented", "multi\nline\n\tindented"},
	} {
		if got := CleanText(tt.in); got != tt.want {
			t.Errorf("CleanText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
