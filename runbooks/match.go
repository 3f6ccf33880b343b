package runbooks

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/prometheus/alertmanager/pkg/labels"
)

// matches reports whether the alert selects the runbook: its labels satisfy
// every matcher of one of the runbook's matcher sets, or its runbook_url
// annotation names the runbook.
func (rb *runbook) matches(a bot.Alert) bool { return rb.why(a) != "" }

// why says how the alert selects the runbook, naming the matcher set or
// the annotation, or "" when it does not.
func (rb *runbook) why(a bot.Alert) string {
	for _, set := range rb.sets {
		if len(set) > 0 && matchesAll(set, a.Labels) {
			parts := make([]string, len(set))
			for i, m := range set {
				parts[i] = m.String()
			}
			return fmt.Sprintf("alert %s matches {%s}", shorten(a.Name()), strings.Join(parts, ", "))
		}
	}
	u := strings.TrimSpace(a.Annotations["runbook_url"])
	if u == "" {
		return ""
	}
	for _, sub := range rb.urls {
		if sub != "" && strings.Contains(u, sub) {
			return fmt.Sprintf("alert %s has runbook_url %s", shorten(a.Name()), shorten(u))
		}
	}
	if urlNames(u, rb.Name) {
		return fmt.Sprintf("alert %s has runbook_url %s", shorten(a.Name()), shorten(u))
	}
	return ""
}

// shorten bounds label text quoted in a reason, which is stored with the
// incident's chat state.
func shorten(s string) string {
	const n = 200
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// matchesAll applies Alertmanager's semantics: a missing label has the
// empty value, so name!="x" matches an alert without the label.
func matchesAll(set []*labels.Matcher, lbls map[string]string) bool {
	for _, m := range set {
		if !m.Matches(lbls[m.Name]) {
			return false
		}
	}
	return true
}

// urlNames reports whether a runbook URL names the runbook: its last path
// element without extension (https://wiki/runbooks/memory-leak,
// .../memory-leak.md) or its fragment (.../runbooks.md#memory-leak).
func urlNames(u, name string) bool {
	if name == "" {
		return false
	}
	rest, frag, _ := strings.Cut(u, "#")
	rest, _, _ = strings.Cut(rest, "?")
	rest = strings.TrimRight(rest, "/")
	last := rest[strings.LastIndex(rest, "/")+1:]
	if p, err := url.PathUnescape(last); err == nil {
		last = p
	}
	last = strings.TrimSuffix(last, path.Ext(last))
	return strings.EqualFold(last, name) || strings.EqualFold(frag, name)
}
