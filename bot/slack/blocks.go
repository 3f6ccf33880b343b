package slack

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// view renders incidents as Slack messages. It is pure (the same incident
// gives the same blocks), which golden files pin down and refreshes rely
// on to edit only what changed: no "5 minutes ago", only absolute times.
type view struct {
	loc       *time.Location
	publicURL string
}

// maxAlertsShown keeps a storm of alerts to a readable message (and under
// Slack's 50 blocks); the rest are counted.
const maxAlertsShown = 10

// maxLabels is how many distinguishing labels an alert shows.
const maxLabels = 6

func (v view) when(t time.Time) string { return t.In(v.loc).Format("Jan 2 15:04 MST") }

func severityIcon(s bot.Severity) string {
	switch s {
	case bot.SEV1:
		return "🔴"
	case bot.SEV2:
		return "🟠"
	case bot.SEV3:
		return "🟡"
	}
	return "🔵"
}

// incident renders the incident message of its channel: what it is, who
// leads it, the alerts, links, and the Acknowledge and Resolve buttons.
func (v view) incident(inc *bot.Incident) (string, []slackgo.Block) {
	blocks := []slackgo.Block{
		slackgo.NewHeaderBlock(plain(clip(inc.Key()+" · "+oneLine(inc.Title), 150))),
		slackgo.NewSectionBlock(nil, v.facts(inc), nil),
	}
	if s := story(inc); s != "" {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(s), nil, nil))
	}
	if len(inc.Alerts) > 0 {
		blocks = append(blocks, slackgo.NewDividerBlock())
		blocks = append(blocks, v.alerts(inc)...)
	}
	if l := v.links(inc); l != "" {
		blocks = append(blocks, slackgo.NewContextBlock("incident_links", mrkdwn(l)))
	}
	if a := actions(inc); a != nil {
		blocks = append(blocks, a)
	}
	text := fmt.Sprintf("%s %s %s: %s", inc.Key(), inc.Severity, inc.Status, Escape(oneLine(inc.Title)))
	return text, blocks
}

func (v view) facts(inc *bot.Incident) []*slackgo.TextBlockObject {
	field := func(name, value string) *slackgo.TextBlockObject { return mrkdwn("*" + name + "*\n" + value) }
	lead, ack := "_nobody yet_", "_not yet_"
	if inc.Lead != "" {
		lead = mention(inc.Lead)
	}
	if inc.AcknowledgedAt != nil {
		ack = "by " + mention(inc.AcknowledgedBy) + ", " + v.when(*inc.AcknowledgedAt)
	}
	fields := []*slackgo.TextBlockObject{
		field("Severity", severityIcon(inc.Severity)+" "+inc.Severity.String()),
		field("Status", string(inc.Status)),
		field("Lead", lead),
		field("Acknowledged", ack),
		field("Detected", v.when(inc.DetectedAt)+since(inc)),
	}
	if sil := lastSilence(inc); sil != nil {
		fields = append(fields, field("Silenced", "🔕 until "+v.when(sil.EndsAt)))
	}
	switch {
	case inc.ResolvedAt != nil:
		fields = append(fields, field("Resolved", v.when(*inc.ResolvedAt)+" (after "+bot.HumanDuration(inc.ResolvedAt.Sub(inc.DetectedAt))+")"))
	case inc.DeclaredBy != "":
		fields = append(fields, field("Declared by", mention(inc.DeclaredBy)))
	}
	return fields
}

// lastSilence is the incident's newest Alertmanager silence that the bot
// has not expired, or nil.
func lastSilence(inc *bot.Incident) *bot.Silence {
	for i := len(inc.Silences) - 1; i >= 0; i-- {
		if inc.Silences[i].ExpiredAt == nil {
			return &inc.Silences[i]
		}
	}
	return nil
}

// since shows how long ago the incident was detected, while it is open, as
// a Slack date token: each reader's client counts it ("3 hours ago"),
// so the message stays the same (and is not edited) as time passes.
func since(inc *bot.Incident) string {
	if !inc.Open() || inc.DetectedAt.IsZero() {
		return ""
	}
	return fmt.Sprintf(" (<!date^%d^{ago}|%s>)", inc.DetectedAt.Unix(), inc.DetectedAt.UTC().Format("2006-01-02 15:04 UTC"))
}

// story is what people wrote about the incident so far.
func story(inc *bot.Incident) string {
	var lines []string
	for _, l := range []struct{ name, text string }{{"Impact", inc.Impact}, {"Cause", inc.Cause}, {"Resolution", inc.Resolution}} {
		if t := oneLine(l.text); t != "" {
			lines = append(lines, "*"+l.name+":* "+Escape(clip(t, 900)))
		}
	}
	return strings.Join(lines, "\n")
}

// alerts renders the roster: counts, then the first alerts, firing first.
func (v view) alerts(inc *bot.Incident) []slackgo.Block {
	firing := inc.Firing()
	head := fmt.Sprintf("*Alerts:* %d firing, %d resolved", firing, len(inc.Alerts)-firing)
	if inc.TruncatedAlerts > 0 {
		head += fmt.Sprintf("\n_Alertmanager left %d more out of its notification (max_alerts)._", inc.TruncatedAlerts)
	}
	blocks := []slackgo.Block{slackgo.NewSectionBlock(mrkdwn(head), nil, nil)}
	list := slices.Clone(inc.Alerts)
	slices.SortStableFunc(list, func(a, b bot.Alert) int {
		if (a.Status == bot.AlertFiring) != (b.Status == bot.AlertFiring) {
			if a.Status == bot.AlertFiring {
				return -1
			}
			return 1
		}
		return a.StartsAt.Compare(b.StartsAt)
	})
	for _, a := range list[:min(len(list), maxAlertsShown)] {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(v.alert(a, inc.GroupLabels)), nil, nil))
	}
	if more := len(list) - maxAlertsShown; more > 0 {
		blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more alerts (see `/incident timeline`)", more))))
	}
	return blocks
}

func (v view) alert(a bot.Alert, group map[string]string) string {
	icon, state := "🔴", "since "+v.when(a.StartsAt)
	if a.Status == bot.AlertResolved {
		icon, state = "✅", "resolved"
		if a.EndsAt != nil {
			state += " " + v.when(*a.EndsAt)
		}
	}
	var b strings.Builder
	b.WriteString(icon + " *" + Escape(a.Name()) + "*")
	for _, kv := range labelsThatMatter(a.Labels, group) {
		b.WriteString(" " + code(kv))
	}
	if s := oneLine(a.Annotations["summary"]); s != "" {
		b.WriteString("\n" + Escape(clip(s, 300)))
	}
	if d := oneLine(a.Annotations["description"]); d != "" {
		b.WriteString("\n_" + Escape(clip(d, 600)) + "_")
	}
	parts := []string{state}
	for _, l := range []string{link(a.GeneratorURL, "source"), link(a.Annotations["runbook_url"], "runbook"), link(a.Annotations["dashboard_url"], "dashboard")} {
		if l != "" {
			parts = append(parts, l)
		}
	}
	b.WriteString("\n" + strings.Join(parts, " · "))
	return b.String()
}

// labelsThatMatter are the labels that tell an alert from the others of
// its group: not its name or severity, and not the group's own labels,
// which every alert of the group shares.
func labelsThatMatter(labels, group map[string]string) []string {
	keys := make([]string, 0, len(labels))
	for k, val := range labels {
		if k == "alertname" || k == "severity" || (group[k] == val && val != "") {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, min(len(keys), maxLabels))
	for _, k := range keys[:min(len(keys), maxLabels)] {
		out = append(out, k+"="+strconv.Quote(clip(labels[k], 80)))
	}
	return out
}

// links points to Alertmanager, a silence for the group, and the draft.
func (v view) links(inc *bot.Incident) string {
	var parts []string
	if am := strings.TrimRight(inc.ExternalURL, "/"); am != "" {
		if l := link(am, "Alertmanager"); l != "" {
			parts = append(parts, l)
		}
		if len(inc.GroupLabels) > 0 {
			filter := url.QueryEscape(matchers(inc.GroupLabels))
			parts = append(parts, link(am+"/#/silences/new?filter="+filter, "Silence this group"))
		}
	}
	if page := incidentPage(v.publicURL, inc.ID); page != "" {
		parts = append(parts, link(page, "Incident page"), link(draftPage(v.publicURL, inc.ID), "Postmortem draft"))
	}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), " · ")
}

// matchers writes labels as an Alertmanager matcher list, {k="v",...}.
func matchers(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = k + "=" + strconv.Quote(labels[k])
	}
	return "{" + strings.Join(keys, ",") + "}"
}

// actions are the buttons; their action IDs and values are the contract
// with the inbound adapter (bot.ActionAck, bot.ActionResolve).
func actions(inc *bot.Incident) slackgo.Block {
	id := strconv.FormatInt(inc.ID, 10)
	if !inc.Open() {
		reopen := slackgo.NewButtonBlockElement(bot.ActionReopen, id, plain("Reopen"))
		reopen.Confirm = slackgo.NewConfirmationBlockObject(plain("Reopen "+inc.Key()+"?"),
			plain("Set it back to investigating; the timeline says who reopened it."), plain("Reopen"), plain("Cancel"))
		return slackgo.NewActionBlock("incident_actions", reopen)
	}
	var els []slackgo.BlockElement
	if inc.AcknowledgedAt == nil {
		els = append(els, slackgo.NewButtonBlockElement(bot.ActionAck, id, plain("Acknowledge")).WithStyle(slackgo.StylePrimary))
	}
	resolve := slackgo.NewButtonBlockElement(bot.ActionResolve, id, plain("Resolve")).WithStyle(slackgo.StyleDanger)
	resolve.Confirm = slackgo.NewConfirmationBlockObject(plain("Resolve "+inc.Key()+"?"),
		plain("Mark the incident resolved now. Add a summary with /incident resolve <summary>."), plain("Resolve"), plain("Cancel"))
	els = append(els, resolve)
	return slackgo.NewActionBlock("incident_actions", els...)
}

// headline renders the post in the announcement channel that points to
// the incident's channel.
func (v view) headline(inc *bot.Incident, channelID string) (string, []slackgo.Block) {
	title := Escape(oneLine(inc.Title))
	state := string(inc.Status)
	icon := severityIcon(inc.Severity)
	if inc.ResolvedAt != nil {
		icon, state = "✅", "resolved after "+bot.HumanDuration(inc.ResolvedAt.Sub(inc.DetectedAt))
	}
	first := fmt.Sprintf("%s *%s* · %s · %s — %s", icon, inc.Key(), inc.Severity, state, title)
	var second []string
	if channelID != "" {
		second = append(second, "<#"+channelID+">")
	}
	lead := "no lead yet"
	if inc.Lead != "" {
		lead = "lead " + mention(inc.Lead)
	}
	second = append(second, lead, "detected "+v.when(inc.DetectedAt))
	text := fmt.Sprintf("%s %s %s: %s", inc.Key(), inc.Severity, inc.Status, title)
	return text, []slackgo.Block{slackgo.NewSectionBlock(mrkdwn(first+"\n"+strings.Join(second, " · ")), nil, nil)}
}

// maxTopic is Slack's limit on a channel topic.
const maxTopic = 250

// topic is the channel topic: severity, status, lead, title.
func (v view) topic(inc *bot.Incident) string {
	parts := []string{inc.Severity.String(), string(inc.Status)}
	if inc.Lead != "" {
		parts = append(parts, "lead "+mention(inc.Lead))
	}
	parts = append(parts, inc.Key()+" "+Escape(oneLine(inc.Title)))
	return clip(strings.Join(parts, " · "), maxTopic)
}
