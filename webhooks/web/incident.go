package web

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
)

type incidentData struct {
	Inc     *bot.Incident
	Metrics bot.Metrics
	// Channel is the name of the incident's Slack channel, once it has one.
	Channel   string
	Teams     []string
	Alerts    []alertView
	Runbooks  []runbookView
	Timeline  []bot.TimelineEntry
	Draft     string
	Truncated int
	Pages     []bot.Page
	// Graph is true when the alerts carry an expression to draw.
	Graph bool
	// Correct is true when entries can be struck here (the pages have a
	// sign-in).
	Correct  bool
	Silences []silenceView
	people
}

type alertView struct {
	bot.Alert
	// Source is the generatorURL when it is an http(s) link (Prometheus).
	Source string
	// Alertmanager is the Alertmanager page of alerts with these labels.
	Alertmanager string
}

// silenceView is a silence made for the incident, with its Alertmanager
// page when that is an http(s) URL.
type silenceView struct {
	bot.Silence
	Active bool
	Link   string
}

type runbookView struct {
	Name, Title   string
	Steps         []stepView
	Done, Skipped int
}

type stepView struct {
	N    int
	Text string
	Done *bot.StepDone
}

// incidentID reads the :id of the path: "12" or "INC-12".
func incidentID(c *gin.Context) (int64, error) {
	s := c.Param("id")
	if len(s) > 4 && strings.EqualFold(s[:4], "INC-") {
		s = s[4:]
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 || s[0] == '+' {
		return 0, errorf("incident %q: want a number like 12 or INC-12", c.Param("id"))
	}
	return id, nil
}

// load reads one incident, its timeline and its draft, with the names of
// the people the draft mentions (and extra, such as those paged).
func (h *Handler) load(c *gin.Context, extra func(inc *bot.Incident) []string) (*bot.Incident, []bot.TimelineEntry, *bot.Postmortem, error) {
	id, err := incidentID(c)
	if err != nil {
		return nil, nil, nil, err
	}
	inc, err := h.svc.Incident(ctx(c), id)
	if err != nil {
		return nil, nil, nil, notFound(err, id, h.cfg.StatusOf)
	}
	tl, err := h.svc.Timeline(ctx(c), id)
	if err != nil {
		return nil, nil, nil, notFound(err, id, h.cfg.StatusOf)
	}
	pm := bot.Draft(inc, tl, h.cfg.Zone, h.cfg.Now())
	ids := pm.People()
	for _, e := range tl {
		ids = append(ids, e.Actor)
	}
	ids = append(ids, inc.AcknowledgedBy, inc.ResolvedBy, inc.DeclaredBy)
	if extra != nil {
		ids = append(ids, extra(inc)...)
	}
	pm.Names = h.names(c, ids)
	if pub := strings.TrimRight(h.cfg.PublicURL, "/"); pub != "" {
		pm.URL = pub + "/incidents/" + strconv.FormatInt(id, 10)
	}
	return inc, tl, pm, nil
}

// personIDs keeps the user IDs among who, once each.
func personIDs(who []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range who {
		if id := bot.PersonID(w); id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func notFound(err error, id int64, statusOf func(error) int) error {
	if statusOf(err) == http.StatusNotFound {
		return fmt.Errorf("%w: incident %d does not exist", bot.ErrNotFound, id)
	}
	return err
}

func (h *Handler) incident(c *gin.Context) {
	var pages []bot.Page
	var perr error
	inc, tl, pm, err := h.load(c, func(inc *bot.Incident) []string {
		pages, perr = h.svc.Pages(ctx(c), inc.ID)
		var ids []string
		for _, p := range pages {
			ids = append(ids, p.Target)
		}
		return ids
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	room, err := h.svc.ChatRecord(ctx(c), inc.ID, botslack.Adapter)
	if err != nil {
		h.fail(c, err)
		return
	}
	d := incidentData{Inc: inc, Channel: room.RoomName, Metrics: pm.Metrics, Teams: teamsOf(inc, h.svc.OnCallConfig()), Timeline: tl,
		Draft: pm.Markdown(), Runbooks: h.runbooksOf(inc), Truncated: inc.TruncatedAlerts, Graph: h.svc.Graphable(inc),
		Pages: pages, people: people(pm.Names), Correct: !h.auth.open()}
	for _, a := range inc.Alerts {
		d.Alerts = append(d.Alerts, alertView{Alert: a, Source: safeLink(a.GeneratorURL), Alertmanager: alertmanagerLink(inc.ExternalURL, a.Labels)})
	}
	now := h.cfg.Now()
	for _, si := range inc.Silences {
		v := silenceView{Silence: si, Active: si.Active(now)}
		if base := safeLink(si.Alertmanager); base != "" {
			v.Link = strings.TrimRight(base, "/") + "/#/silences/" + url.PathEscape(si.ID)
		}
		d.Silences = append(d.Silences, v)
	}
	h.render(c, http.StatusOK, "incident", page{Title: inc.Key() + " " + inc.Title, Nav: "incidents", Data: d})
}

// strike strikes a timeline entry out, or restores it (struck=false),
// through the same correction as the PATCH route and Slack: the earlier
// version is kept, struck entries leave the draft, and the channel is
// told. Like the API, it needs the pages to have a sign-in: open pages
// let anyone who reaches the port read, not rewrite the record.
func (h *Handler) strike(c *gin.Context) {
	if h.auth.open() {
		h.render(c, http.StatusForbidden, "error", page{Title: "Not allowed",
			Data: "Correcting the timeline here needs INCIDENTBOT_API_TOKEN or INCIDENTBOT_AUTH_PROXY_HEADER to be set: open pages are for reading."})
		return
	}
	id, err := incidentID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	entry, err := strconv.ParseUint(c.Param("entry"), 10, 64)
	if err != nil || entry == 0 {
		h.fail(c, errorf("entry %q: want a positive entry number", c.Param("entry")))
		return
	}
	var struck bool
	switch v := c.PostForm("struck"); v {
	case "true", "false":
		struck = v == "true"
	default:
		h.fail(c, errorf("struck %q: want true or false", v))
		return
	}
	if _, err := h.svc.Correct(ctx(c), id, entry, bot.Correction{Struck: &struck, By: actorOf(c)}); err != nil {
		h.fail(c, notFound(err, id, h.cfg.StatusOf))
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/incidents/%d#e-%d", id, entry))
}

// alertmanagerLink is the Alertmanager UI's list of alerts with exactly
// these labels, when the notification's externalURL is an http(s) URL.
func alertmanagerLink(external string, labels map[string]string) string {
	base := safeLink(external)
	if base == "" {
		return ""
	}
	parts := make([]string, 0, len(labels))
	for _, p := range sortedPairs(labels) {
		parts = append(parts, fmt.Sprintf("%s=%q", p.Key, p.Value))
	}
	return strings.TrimRight(base, "/") + "/#/alerts?filter=" + url.QueryEscape("{"+strings.Join(parts, ",")+"}")
}

// runbooksOf is the checklist progress: the runbooks matching the alerts,
// those posted in the channel and any a step was marked in, with who did
// (or skipped) each step.
func (h *Handler) runbooksOf(inc *bot.Incident) []runbookView {
	var books []bot.Runbook
	seen := map[string]bool{}
	if h.cfg.Runbooks != nil {
		for _, rb := range h.cfg.Runbooks.Match(inc.Alerts) {
			books, seen[rb.Name] = append(books, rb), true
		}
		var posted []string
		for _, c := range inc.Checklists {
			posted = append(posted, c.Runbook)
		}
		for _, s := range inc.StepsDone {
			posted = append(posted, s.Runbook)
		}
		for _, name := range posted {
			if rb, ok := h.cfg.Runbooks.Get(name); ok && !seen[rb.Name] {
				books, seen[rb.Name] = append(books, rb), true
			}
		}
	}
	var out []runbookView
	for _, rb := range books {
		v := runbookView{Name: rb.Name, Title: rb.Title}
		for _, st := range rb.Steps {
			sv := stepView{N: st.N, Text: st.Text}
			for i := range inc.StepsDone {
				if d := &inc.StepsDone[i]; d.Runbook == rb.Name && d.N == st.N {
					sv.Done = d
					if d.Skipped {
						v.Skipped++
					} else {
						v.Done++
					}
					break
				}
			}
			v.Steps = append(v.Steps, sv)
		}
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// postmortemMarkdown downloads the draft as a .md file.
func (h *Handler) postmortemMarkdown(c *gin.Context) {
	inc, _, pm, err := h.load(c, nil)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="postmortem-%s.md"`, inc.Key()))
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/markdown; charset=utf-8", []byte(pm.Markdown()))
}
