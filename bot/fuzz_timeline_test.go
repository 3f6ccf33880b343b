package bot

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseEntryValue: a menu value from Slack (outside input) either
// names an incident, an entry and a known op, or is refused as invalid.
func FuzzParseEntryValue(f *testing.F) {
	for _, s := range []string{"1:2:edit", "1:2:strike", "0:1:edit", "1:2:delete", "x:y:z", "", "1:2", "99999999999999999999:1:edit"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		inc, entry, op, err := ParseEntryValue(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseEntryValue(%q): %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if inc < 1 || entry < 1 || (op != "edit" && op != "strike") || EntryValue(inc, entry, op) != s {
			t.Fatalf("ParseEntryValue(%q) = %d, %d, %q", s, inc, entry, op)
		}
	})
}

// FuzzMarkdownCell: whatever an alert label holds, a table cell stays one
// cell on one line, without raw HTML or control characters.
func FuzzMarkdownCell(f *testing.F) {
	for _, h := range hostile {
		f.Add(h.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := MarkdownCell(s)
		if strings.ContainsAny(got, "\n\r<>") || strings.ContainsFunc(got, unwanted) {
			t.Fatalf("MarkdownCell(%q) = %q leaves a line break, HTML or a control character", s, got)
		}
		if cellBorders("| "+got+" |") != 2 || opensLink(got) {
			t.Fatalf("MarkdownCell(%q) = %q ends the cell early or opens a link", s, got)
		}
	})
}

// FuzzCleanText: the inbound rule leaves no unwanted rune, keeps every
// other rune in order, and is idempotent.
func FuzzCleanText(f *testing.F) {
	for _, h := range hostile {
		f.Add(h.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // every inbound path refuses invalid UTF-8 before this rule
		}
		got := CleanText(s)
		if strings.ContainsFunc(got, unwanted) || strings.ContainsRune(got, '\r') {
			t.Fatalf("CleanText(%q) = %q keeps an unwanted rune", s, got)
		}
		if again := CleanText(got); again != got {
			t.Fatalf("CleanText is not idempotent: %q, then %q", got, again)
		}
		kept := strings.Map(func(r rune) rune {
			if r == '\r' {
				return '\n'
			}
			if unwanted(r) {
				return -1
			}
			return r
		}, strings.ReplaceAll(s, "\r\n", "\n"))
		if got != kept {
			t.Fatalf("CleanText(%q) = %q, want %q", s, got, kept)
		}
	})
}

// FuzzCleanNotification: whatever text a notification carries, cleaning
// leaves no unwanted rune in labels, annotations or URLs, keeps the
// identities (receiver, groupKey, fingerprint) as sent, keeps the number
// of labels, and refuses only names that would merge.
func FuzzCleanNotification(f *testing.F) {
	f.Add("alertname", "Disk\x00Full", "description", "a\r\n\tb\u202e", "{}:{x=\"\\x00\"}")
	f.Add("team\x00", "a", "team", "b", "g")
	f.Add("\x1b", "v", "k", "v", "g")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, groupKey string) {
		labels := map[string]string{k1: v1, k2: v2}
		n := &Notification{Receiver: "r\u200b", GroupKey: groupKey, GroupLabels: labels, CommonLabels: labels,
			CommonAnnotations: labels, ExternalURL: v1,
			Alerts: []Alert{{Fingerprint: "ab12", Labels: labels, Annotations: labels, GeneratorURL: v2}}}
		c, err := n.cleaned()
		if err != nil {
			if !errors.Is(err, ErrInvalid) || (CleanText(k1) != "" && CleanText(k2) != "" && (CleanText(k1) != CleanText(k2) || k1 == k2)) {
				t.Fatalf("cleaned refused %q: %v", labels, err)
			}
			return
		}
		if c.Receiver != n.Receiver || c.GroupKey != groupKey || c.Alerts[0].Fingerprint != "ab12" {
			t.Fatalf("an identity changed: %+v", c)
		}
		for _, m := range []map[string]string{c.GroupLabels, c.CommonLabels, c.CommonAnnotations, c.Alerts[0].Labels, c.Alerts[0].Annotations} {
			if len(m) != len(labels) {
				t.Fatalf("cleaning %q kept %d labels, want %d", labels, len(m), len(labels))
			}
			for k, v := range m {
				if dirty(k) || dirty(v) {
					t.Fatalf("cleaned %q keeps %q=%q", labels, k, v)
				}
			}
		}
		if dirty(c.ExternalURL) || dirty(c.Alerts[0].GeneratorURL) {
			t.Fatalf("a URL keeps an unwanted rune: %q %q", c.ExternalURL, c.Alerts[0].GeneratorURL)
		}
		if n.GroupLabels[k1] != v1 && k1 != k2 {
			t.Fatal("cleaned changed its input")
		}
	})
}

// BenchmarkCleanNotification: the cost of the inbound rule on a clean
// 10,000-alert notification (the common case: a scan, no copy) and on
// one whose every alert carries a control character.
func BenchmarkCleanNotification(b *testing.B) {
	for _, dirty := range []bool{false, true} {
		n := &Notification{GroupKey: "g", GroupLabels: map[string]string{"alertname": "X"}}
		for i := range 10000 {
			a := Alert{Fingerprint: "ab", Labels: map[string]string{"alertname": "DiskFull", "instance": "node-" + strings.Repeat("x", i%7),
				"job": "node", "service": "storage", "severity": "page"},
				Annotations: map[string]string{"summary": "disk is 95% full", "description": "the disk of this node\nfills up"}}
			if dirty {
				a.Labels["instance"] += "\x1b"
			}
			n.Alerts = append(n.Alerts, a)
		}
		b.Run(map[bool]string{false: "clean", true: "dirty"}[dirty], func(b *testing.B) {
			for b.Loop() {
				if _, err := n.cleaned(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
