package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
)

// oncallCommand answers `/oncall`: who is on call (every team, or one,
// with its calendar feed link), or an override.
func (s *Server) oncallCommand(ctx context.Context, cmd slack.SlashCommand) Reply {
	ctx, cancel := budget(ctx)
	defer cancel()
	oc := s.svc.OnCallConfig()
	if oc == nil || len(oc.Teams) == 0 {
		return ephemeral("no on-call teams are configured (teams: in the config file)")
	}
	c, err := bot.ParseOnCallCommand(cmd.Text, s.svc.Now(), s.cfg.Zone)
	if err != nil {
		return s.failed(ctx, err, "")
	}
	if c.Override {
		return s.override(ctx, c, "<@"+cmd.UserID+">")
	}
	teams, err := s.svc.WhoIsOnCall(ctx, c.Team)
	if err != nil {
		return s.failed(ctx, err, "")
	}
	var b strings.Builder
	for _, t := range teams {
		b.WriteString(s.describeTeam(t))
	}
	if c.Team != "" {
		if link := s.feedLink(c.Team); link != "" {
			fmt.Fprintf(&b, "Calendar feed (read-only, keep it private): %s\n", link)
		}
	}
	return ephemeral("%s", strings.TrimSpace(b.String()))
}

func (s *Server) override(ctx context.Context, c bot.OnCallCommand, actor string) Reply {
	team := c.Team
	if oc := s.svc.OnCallConfig(); team == "" {
		if len(oc.Teams) != 1 {
			return ephemeral("name the team: there are several (%s)\nUsage: `%s`", teamList(oc), bot.OnCallUsage)
		}
		team = oc.Teams[0].Name
	}
	if err := s.mayOverride(team, c.User, actor); err != nil {
		return ephemeral("%s", err)
	}
	o, err := s.svc.AddOverride(ctx, team, c.Schedule, c.User, c.Start, c.End, actor)
	if err != nil {
		return s.failed(ctx, err, "")
	}
	return inChannel("%s made <@%s> on call for %s/%s until %s", bot.Mention(actor), o.User, o.Team, o.Schedule, s.when(o.End))
}

// mayOverride says whether actor may make an override for team putting
// user on call. Under access.act: members only a member of one of the
// team's schedules or an admin may (an override decides whose phone rings
// for the team's incidents, so an outsider may not even put themselves on
// call: that would send the team's pages to them); under anyone, anyone.
// A member may put anyone on call, a colleague from another team who
// covers a shift included. An unknown team is left for AddOverride to name.
func (s *Server) mayOverride(team, user, actor string) error {
	a := s.cfg.Access
	if a.Act == "" || a.Act == ActAnyone {
		return nil
	}
	t, err := s.svc.OnCallConfig().Team(team)
	if err != nil {
		return nil
	}
	who := bot.PersonID(actor)
	if who != "" && slices.Contains(a.Admins, who) {
		return nil
	}
	for _, r := range t.Schedules {
		if who != "" && slices.Contains(r.Members, who) {
			return nil
		}
	}
	return fmt.Errorf("only members of %s's schedules and the admins may make its overrides (access.act: members)", team)
}

func teamList(oc *bot.OnCall) string {
	var names []string
	for _, t := range oc.Teams {
		names = append(names, t.Name)
	}
	return strings.Join(names, ", ")
}

func (s *Server) when(t time.Time) string { return t.In(s.cfg.Zone).Format("Mon Jan 2 15:04 MST") }

// describeTeam is the /oncall text of one team.
func (s *Server) describeTeam(t bot.TeamNow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*\n", t.Team)
	for _, sc := range t.Schedules {
		if sc.OnCall == "" {
			fmt.Fprintf(&b, "• %s: nobody\n", sc.Name)
			continue
		}
		fmt.Fprintf(&b, "• %s: <@%s>", sc.Name, sc.OnCall)
		if sc.Since != nil {
			fmt.Fprintf(&b, " since %s", s.when(*sc.Since))
		}
		if sc.Until != nil {
			fmt.Fprintf(&b, ", until %s", s.when(*sc.Until))
		}
		if sc.Override {
			b.WriteString(" (override)")
		}
		if sc.Next != "" {
			fmt.Fprintf(&b, "; next <@%s>", sc.Next)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// pageCommand answers `/incident page <team|@user> [message]`.
func (s *Server) pageCommand(ctx context.Context, inc *bot.Incident, text, actor string) Reply {
	who, message, _ := strings.Cut(strings.TrimSpace(text), " ")
	team, user := who, ""
	if strings.HasPrefix(who, "<@") || strings.HasPrefix(who, "@") {
		if user = bot.MentionedUser(who); user == "" {
			return ephemeral("%q is not a person: mention them as @name\nUsage: `%s`", who, bot.Usage("page"))
		}
		team = ""
	}
	if _, err := s.svc.PageTeam(ctx, inc.ID, team, user, message, actor); err != nil {
		return s.failed(ctx, err, "page")
	}
	target := "team " + team
	if user != "" {
		target = "<@" + user + ">"
	}
	reply := inChannel("%s is paging %s for %s", bot.Mention(actor), target, inc.Key())
	if s.svc.ChatEnabled() {
		// The bot posts the escalation's start into the channel itself.
		reply.ResponseType = Ephemeral
	}
	return reply
}

// pageAck handles a page DM's Acknowledge button: every incident the DM
// paged for (a grouped DM's "Acknowledge all").
func (s *Server) pageAck(ctx context.Context, value, actor string) string {
	id, page, err := bot.ParsePageValue(value)
	if err != nil {
		return userMessage(err)
	}
	if _, err := s.svc.AckPageAll(ctx, id, page, actor); err != nil {
		return s.actionFailed(ctx, err, bot.ActionPageAck)
	}
	return ""
}

// pageView is a page of the JSON API: GET /api/v1/incidents/{id}/pages.
type pageView struct {
	ID     uint64         `json:"id"`
	At     time.Time      `json:"at"`
	Team   string         `json:"team"`
	Step   int            `json:"step"`
	Target string         `json:"target"`
	Via    string         `json:"via"`
	Status bot.PageStatus `json:"status"`
	Error  string         `json:"error,omitempty"`
	// SentAt and AckedAt are null until then.
	SentAt   *time.Time `json:"sent_at"`
	AckedAt  *time.Time `json:"acked_at"`
	Attempts int        `json:"attempts"`
	Round    int        `json:"round"`
}

func (s *Server) getPages(c *gin.Context) {
	id, ok := s.incidentID(c)
	if !ok {
		return
	}
	pages, err := s.svc.Pages(c.Request.Context(), id)
	if err != nil {
		s.fail(c, notFound(err, id))
		return
	}
	out := make([]pageView, 0, len(pages))
	for _, p := range pages {
		out = append(out, pageView{ID: p.ID, At: p.At, Team: p.Team, Step: p.Step, Target: p.Target, Via: p.Via,
			Status: p.Status, Error: p.Error, SentAt: p.SentAt, AckedAt: p.AckedAt, Attempts: p.Attempts, Round: p.Round})
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getOnCall(c *gin.Context) {
	teams, err := s.svc.WhoIsOnCall(c.Request.Context(), "")
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, teams)
}

// feedToken is a team's read-only calendar token: an HMAC of the team's
// name keyed with the API token, so it opens that feed and nothing else,
// needs no storage, and changes when the API token does. Without an API
// token the API is open, and so is the feed.
func (s *Server) feedToken(team string) string {
	if s.cfg.APIToken == "" {
		return ""
	}
	mac := hmac.New(sha256.New, []byte(s.cfg.APIToken))
	mac.Write([]byte("oncall-feed:" + team))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

func (s *Server) feedLink(team string) string {
	link := s.link("/api/v1/oncall/%s.ics", team)
	if t := s.feedToken(team); link != "" && t != "" {
		link += "?token=" + t
	}
	return link
}

// getCalendar answers GET /api/v1/oncall/{team}.ics: the API token as a
// bearer, or the team's feed token in ?token= (calendar apps cannot send
// headers). The API token itself is refused in the query: it would end
// up in logs and calendar settings.
func (s *Server) getCalendar(c *gin.Context) {
	team, ok := strings.CutSuffix(c.Param("feed"), ".ics")
	if !ok {
		abort(c, http.StatusNotFound, "no route for "+c.Request.URL.Path+" (want /api/v1/oncall/<team>.ics)")
		return
	}
	if s.cfg.APIToken != "" {
		given, bearer := credential(c.Request, false)
		q := c.Query("token")
		okBearer := bearer && subtle.ConstantTimeCompare([]byte(given), []byte(s.cfg.APIToken)) == 1
		okFeed := q != "" && subtle.ConstantTimeCompare([]byte(q), []byte(s.feedToken(team))) == 1
		if !okBearer && !okFeed {
			s.logger(c.Request.Context()).Warn("unauthorized calendar request", "team", team)
			abort(c, http.StatusUnauthorized, "authorization required: Authorization: Bearer <API token>, or the team's feed ?token= shown by /oncall <team>")
			return
		}
	}
	now := s.svc.Now()
	shifts, err := s.svc.TeamShifts(c.Request.Context(), team, now, now.Add(bot.CalendarWeeks*7*24*time.Hour))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "private, max-age=300")
	c.Data(http.StatusOK, "text/calendar; charset=utf-8", bot.Calendar(team, shifts, now))
}

// The ack link's pages. GET only shows a confirm button (mail scanners
// and link previews fetch links; they must not acknowledge), POST acts.
var ackPage = template.Must(template.New("ack").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em}button{font-size:1.2em;padding:.6em 1.4em}</style>
</head><body>
<h1>{{.Title}}</h1>
{{if .Incident}}<p><strong>{{.Incident}}</strong></p>{{end}}
<p>{{.Text}}</p>
{{if .Form}}<form method="post"><button type="submit">Acknowledge as {{.Who}}</button></form>{{end}}
</body></html>
`))

type ackView struct {
	Title, Incident, Text, Who string
	Form                       bool
}

func (s *Server) renderAck(c *gin.Context, status int, v ackView) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("X-Robots-Tag", "noindex")
	c.Header("X-Frame-Options", "DENY")
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	c.Status(status)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := ackPage.Execute(c.Writer, v); err != nil {
		s.logger(c.Request.Context()).Error("rendering the ack page", "err", err)
	}
}

func (s *Server) ackLinkView(c *gin.Context) {
	p, inc, err := s.svc.PageByToken(c.Request.Context(), c.Param("token"))
	if err != nil {
		s.ackFailed(c, err)
		return
	}
	text := fmt.Sprintf("You were paged by %s for this incident.", p.Via)
	if inc.AcknowledgedAt != nil {
		text += fmt.Sprintf(" It was acknowledged by %s; acknowledging stops the escalation that paged you.", inc.AcknowledgedBy)
	}
	title := "Acknowledge " + inc.Key() + "?"
	if n := len(p.Group); n > 0 {
		title = fmt.Sprintf("Acknowledge %s and %d more?", inc.Key(), n)
		text = fmt.Sprintf("You were paged by %s for %s and %d more incidents; this acknowledges each of them that is still open.", p.Via, inc.Key(), n)
	}
	s.renderAck(c, http.StatusOK, ackView{Title: title, Incident: fmt.Sprintf("%s %s: %s", inc.Severity, inc.Key(), inc.Title),
		Text: text, Who: p.Target, Form: inc.Open() || len(p.Group) > 0})
}

func (s *Server) ackLinkPost(c *gin.Context) {
	incs, p, err := s.svc.AckAllByToken(c.Request.Context(), c.Param("token"))
	if err != nil {
		s.ackFailed(c, err)
		return
	}
	inc := incs[0]
	s.logger(c.Request.Context()).Info("acknowledged by ack link", "incident", inc.ID, "page", p.ID, "incidents", len(incs))
	title, text := inc.Key()+" acknowledged", "Thank you. The escalation stopped; the incident's channel has the details."
	if len(incs) > 1 {
		title = fmt.Sprintf("%d incidents acknowledged", len(incs))
		text = "Thank you. Their escalations stopped; each incident's channel has the details."
	}
	s.renderAck(c, http.StatusOK, ackView{Title: title, Incident: fmt.Sprintf("%s %s: %s", inc.Severity, inc.Key(), inc.Title), Text: text})
}

func (s *Server) ackFailed(c *gin.Context, err error) {
	status := statusOf(err)
	switch status {
	case http.StatusNotFound:
		s.renderAck(c, status, ackView{Title: "Link unknown or expired", Text: "This acknowledge link is unknown or has expired. Acknowledge in Slack instead."})
	case http.StatusConflict, http.StatusBadRequest:
		s.renderAck(c, status, ackView{Title: "Nothing to acknowledge", Text: userMessage(err)})
	default:
		s.logger(c.Request.Context()).Error("ack link failed", "err", err)
		s.renderAck(c, http.StatusServiceUnavailable, ackView{Title: "Try again", Text: "Could not record it just now; reload and try again."})
	}
}
