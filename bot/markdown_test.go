package bot

import (
	"strings"
	"testing"
)

// hostile is text from outside that tries to break out of its place.
var hostile = []struct{ name, in string }{
	{"newline and heading", "MemoryLeak\n## Root Cause\nit was DNS"},
	{"table pipe", "a | b | c"},
	{"html", `<img src=x onerror=alert(1)><script>x</script>`},
	{"nul and escape", "ok\x00\x1b[31mred\x07"},
	{"bidi override", "admin\u202egnp.exe"},
	{"leading list and quote", "- not a list"},
	{"leading heading", "# not a heading"},
	{"backticks", "`rm -rf /`"},
	{"carriage return", "line\r\n---\r\nhr"},
}

func TestMarkdownEscaping(t *testing.T) {
	for _, tt := range hostile {
		for name, f := range map[string]func(string) string{"line": MarkdownLine, "cell": MarkdownCell, "code": MarkdownCode} {
			got := f(tt.in)
			if strings.ContainsAny(got, "\n\r\x00\x1b\x07\u202e") {
				t.Errorf("%s: Markdown%s(%q) = %q keeps a line break or a control character", tt.name, name, tt.in, got)
			}
			if strings.ContainsAny(got, "<>") && name != "code" {
				t.Errorf("%s: Markdown%s(%q) = %q keeps raw HTML", tt.name, name, tt.in, got)
			}
			if strings.HasPrefix(got, "#") || strings.HasPrefix(got, "-") {
				t.Errorf("%s: Markdown%s(%q) = %q can start a heading or list", tt.name, name, tt.in, got)
			}
			if name != "line" && strings.Count(got, "|") != strings.Count(got, `\|`) {
				t.Errorf("%s: Markdown%s(%q) = %q has a | that ends a cell", tt.name, name, tt.in, got)
			}
			if name == "code" && (strings.Count(got, "`") != 2 || !strings.HasPrefix(got, "`")) {
				t.Errorf("%s: MarkdownCode(%q) = %q: a backtick ends the span early", tt.name, tt.in, got)
			}
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

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{"  note\x00 one\r\ntwo\t3 ": "note one \ntwo 3", "ok": "ok", "\u202eevil": "evil", "\x1b[2J": "[2J"} {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}
