package web

import (
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// funcs are the helpers templates call. None returns template.HTML built
// from data except markdown, whose renderer drops raw HTML and unsafe links.
func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"when":     h.when,
		"whenPtr":  func(t *time.Time) string { return h.whenPtr(t) },
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"ago":      h.ago,
		"span":     spanText,
		"sevClass": func(s bot.Severity) string { return strings.ToLower(s.String()) },
		"link":     safeLink,
		"labels":   sortedPairs,
		"markdown": renderMarkdown,
		"add":      func(a, b int) int { return a + b },
		"list":     func(n ...int) []int { return n },
		"int":      func(s bot.Severity) int { return int(s) },
	}
}

// when writes a moment in the view's zone, to the minute.
func (h *Handler) when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(h.cfg.Zone).Format("2006-01-02 15:04 MST")
}

func (h *Handler) whenPtr(t *time.Time) string {
	if t == nil {
		return "not yet"
	}
	return h.when(*t)
}

// ago writes how long ago t was ("5m", "2h 30m").
func (h *Handler) ago(t time.Time) string {
	d := max(h.cfg.Now().Sub(t), 0)
	return bot.HumanDuration(d.Truncate(time.Minute))
}

func spanText(s *bot.Span) string {
	if s == nil {
		return "—"
	}
	return s.Text
}

// safeLink returns u when it is an absolute http or https URL, the only
// kinds of links the pages make from alert data; anything else (a
// javascript: URL in an annotation) is shown as text.
func safeLink(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
		return ""
	}
	return p.String()
}

type pair struct{ Key, Value string }

func sortedPairs(m map[string]string) []pair {
	out := make([]pair, 0, len(m))
	for k, v := range m {
		out = append(out, pair{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
