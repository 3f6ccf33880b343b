package web

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
)

// Sizes of the incidents page. A filter the store cannot apply (severity,
// team, text) is applied while reading pages of storePage incidents, and a
// request reads at most scanHeaders incidents (scanAlerts when it needs
// their alerts, which cost ten times more to read) before it offers to
// look further: a page costs the same however old the match is.
const (
	openLimit   = 200
	recentLimit = 50
	storePage   = 200
	scanHeaders = 2500
	scanAlerts  = 500
)

// listFilter is the incidents page's query: ?status=&sev=&team=&q=&before=.
type listFilter struct {
	Status string // "", "open" or "resolved"
	Sev    bot.Severity
	Team   string
	Q      string
	Before int64
}

func parseListFilter(q url.Values, oc *bot.OnCall) (listFilter, error) {
	f := listFilter{Status: q.Get("status"), Team: q.Get("team"), Q: strings.TrimSpace(q.Get("q"))}
	switch f.Status {
	case "", "open", "resolved":
	default:
		return f, errorf("status %q: want open or resolved", f.Status)
	}
	if v := q.Get("sev"); v != "" {
		s, err := bot.ParseSeverity(v)
		if err != nil {
			return f, err
		}
		f.Sev = s
	}
	if f.Team != "" {
		if _, err := oc.Team(f.Team); err != nil {
			return f, errorf("team %q: no such team", f.Team)
		}
	}
	if len(f.Q) > 200 {
		return f, errorf("search text: at most 200 characters")
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(v), "INC-"), 10, 64)
		if err != nil || n < 1 {
			return f, errorf("before %q: want an incident number", v)
		}
		f.Before = n
	}
	return f, nil
}

// query writes the filter back as a query string, with before replaced.
func (f listFilter) query(before int64) string {
	v := url.Values{}
	for k, s := range map[string]string{"status": f.Status, "team": f.Team, "q": f.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Sev != 0 {
		v.Set("sev", strconv.Itoa(int(f.Sev)))
	}
	if before > 0 {
		v.Set("before", strconv.FormatInt(before, 10))
	}
	return v.Encode()
}

// row is one line of the list.
type row struct {
	Inc     *bot.Incident
	Metrics bot.Metrics
	Teams   []string
}

type incidentsData struct {
	Filter listFilter
	Teams  []string
	Open   []row
	// OpenMore is true when more open incidents match than are shown.
	OpenMore bool
	Recent   []row
	// Next is the link to the next (older) page of recent incidents, or "".
	// It is built from url.Values.Encode, so it is a safe URL as it is.
	Next template.URL
	// Scanned is how many resolved incidents this page read; with Next
	// and fewer rows than a page, the search stopped at its budget.
	Scanned int
	// Short is true when the page stopped at its budget before filling.
	Short bool
}

func (h *Handler) incidents(c *gin.Context) {
	f, err := parseListFilter(c.Request.URL.Query(), h.svc.OnCallConfig())
	if err != nil {
		h.fail(c, err)
		return
	}
	d := incidentsData{Filter: f, Teams: h.teamNames()}
	if f.Status != "resolved" && f.Before == 0 {
		open := true
		d.Open, _, d.OpenMore, _, err = h.scan(c, f, &open, 0, openLimit)
		if err != nil {
			h.fail(c, err)
			return
		}
	}
	if f.Status != "open" {
		closed := false
		var last int64
		var more bool
		d.Recent, last, more, d.Scanned, err = h.scan(c, f, &closed, f.Before, recentLimit)
		if err != nil {
			h.fail(c, err)
			return
		}
		d.Short = more && len(d.Recent) < recentLimit
		if more {
			d.Next = template.URL("/incidents?" + f.query(last)) //nolint:gosec // built by url.Values.Encode
		}
	}
	h.render(c, http.StatusOK, "incidents", page{Title: "Incidents", Nav: "incidents", Data: d})
}

// scan reads incidents newest first from before on, in pages, keeping those
// the filter matches, until it has want of them or has read its budget. It
// returns the rows, the ID of the last incident read (where the next page
// starts), whether there may be more, and how many it read.
func (h *Handler) scan(c *gin.Context, f listFilter, open *bool, before int64, want int) (rows []row, last int64, more bool, read int, err error) {
	oc := h.svc.OnCallConfig()
	// Alerts are read only when the filter needs them: a text search
	// (label values), or a team for an incident whose header has no team
	// list kept under this config (incidents from before the list, or
	// from another team config). Those reads count against scanAlerts.
	withAlerts := f.Q != ""
	budget := scanHeaders
	if withAlerts {
		budget = scanAlerts
	}
	loaded := 0
	for read < budget {
		limit := min(storePage, budget-read)
		list, err := h.svc.Incidents(ctx(c), bot.IncidentFilter{Open: open, Limit: limit, Before: before, WithAlerts: withAlerts})
		if err != nil {
			return nil, 0, false, 0, err
		}
		for i, inc := range list {
			read++
			before = inc.ID
			teams, known := oc.KnownTeams(inc)
			if !known && (withAlerts || f.Team != "") {
				if !withAlerts {
					if loaded == scanAlerts {
						return rows, inc.ID + 1, true, read - 1, nil
					}
					loaded++
					full, err := h.svc.Incident(ctx(c), inc.ID)
					if err != nil {
						return nil, 0, false, 0, err
					}
					inc.Alerts = full.Alerts
				}
				teams = teamsOf(inc, oc)
			}
			if !f.matches(inc, teams) {
				continue
			}
			rows = append(rows, row{Inc: inc, Metrics: bot.MetricsOf(inc), Teams: teams})
			if len(rows) == want {
				return rows, before, i < len(list)-1 || len(list) == limit, read, nil
			}
		}
		if len(list) < limit {
			return rows, before, false, read, nil
		}
	}
	return rows, before, true, read, nil
}

func (f listFilter) matches(inc *bot.Incident, teams []string) bool {
	if f.Sev != 0 && inc.Severity != f.Sev {
		return false
	}
	if f.Team != "" && !contains(teams, f.Team) {
		return false
	}
	if f.Q == "" {
		return true
	}
	q := strings.ToLower(f.Q)
	if containsFold(inc.Title, q) || strings.EqualFold(inc.Key(), f.Q) || containsFold(inc.Lead, q) {
		return true
	}
	for _, a := range inc.Alerts {
		for _, v := range a.Labels {
			if containsFold(v, q) {
				return true
			}
		}
	}
	return false
}

// containsFold reports whether s contains lowerQ (already lower case),
// ignoring case. ASCII text, nearly every label value, is compared in
// place; other text is lowered first.
func containsFold(s, lowerQ string) bool {
	if !isASCII(s) || !isASCII(lowerQ) {
		return strings.Contains(strings.ToLower(s), lowerQ)
	}
	n := len(lowerQ)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for j < n && lower(s[i+j]) == lowerQ[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// teamsOf lists the teams whose match fits one of the incident's alerts
// (which it must carry): the teams it pages.
func teamsOf(inc *bot.Incident, oc *bot.OnCall) []string {
	if oc == nil {
		return nil
	}
	var out []string
	for _, t := range oc.Teams {
		if t.Match == nil {
			continue
		}
		for _, a := range inc.Alerts {
			if t.Match(a.Labels) {
				out = append(out, t.Name)
				break
			}
		}
	}
	return out
}

func (h *Handler) teamNames() []string {
	oc := h.svc.OnCallConfig()
	if oc == nil {
		return nil
	}
	out := make([]string, len(oc.Teams))
	for i, t := range oc.Teams {
		out[i] = t.Name
	}
	return out
}

func contains(list []string, s string) bool {
	return slices.Contains(list, s)
}
