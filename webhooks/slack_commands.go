package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
)

// Reply is the answer to a slash command, in Slack's response format.
type Reply struct {
	// ResponseType is "ephemeral" (only the user sees it) or "in_channel".
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

// The two response types of a Reply.
const (
	Ephemeral = "ephemeral"
	InChannel = "in_channel"
)

func ephemeral(format string, args ...any) Reply {
	return Reply{ResponseType: Ephemeral, Text: fmt.Sprintf(format, args...)}
}

func inChannel(format string, args ...any) Reply {
	return Reply{ResponseType: InChannel, Text: fmt.Sprintf(format, args...)}
}

// Command runs one `/incident` command and returns the reply to show. It
// never fails: mistakes and outages become ephemeral replies that say what
// went wrong. Both the HTTP endpoint and Socket Mode call it.
func (s *Server) Command(ctx context.Context, cmd slack.SlashCommand) Reply {
	if cmd.Command == "/oncall" {
		return s.oncallCommand(ctx, cmd)
	}
	ctx, cancel := budget(ctx)
	defer cancel()
	c, err := bot.ParseCommand(cmd.Text)
	if err != nil {
		return s.failed(ctx, err, verbOf(cmd.Text))
	}
	if cmd.UserID == "" || cmd.ChannelID == "" {
		return ephemeral("the command arrived without a user or channel; try again")
	}
	actor := cmd.UserID
	switch c.Verb {
	case "help":
		return ephemeral("%s", helpText(s.svc.Zone().String()))
	case "declare":
		if c.Text == "" {
			if text := s.declareForm(ctx, cmd.TriggerID); text != "" {
				return ephemeral("%s", text)
			}
			return ephemeral("Opening the form to declare an incident…")
		}
		inc, err := s.svc.Declare(ctx, c.Text, c.Severity, actor, time.Time{})
		if err != nil {
			return s.failed(ctx, err, c.Verb)
		}
		return inChannel("%s declared %s: %s (%s); %s leads it", bot.Mention(actor), inc.Key(), botslack.Escape(inc.Title), inc.Severity, bot.Mention(inc.Lead))
	case "list":
		return s.listOpen(ctx)
	}
	inc, _, err := s.svc.IncidentByRoom(ctx, botslack.Adapter, cmd.ChannelID)
	if errors.Is(err, bot.ErrNotFound) {
		return s.notIncidentChannel(ctx, c.Verb)
	}
	if err != nil {
		return s.failed(ctx, err, c.Verb)
	}
	// Reading is open to all; everything else changes the incident or
	// posts into its channel, which access.act may keep to its members.
	if readOnly := c.Verb == "timeline" || (c.Verb == "runbook" && c.Text == ""); !readOnly {
		if err := s.mayAct(ctx, inc, actor); err != nil {
			return ephemeral("%s", err.Error())
		}
	}
	switch c.Verb {
	case "timeline":
		return s.timeline(ctx, inc)
	case "postmortem":
		return s.postmortem(ctx, inc, actor)
	case "runbook":
		return s.runbook(ctx, inc, c.Text, actor)
	case "silence", "unsilence":
		return s.silence(ctx, inc, c, cmd, actor)
	case "profile":
		return s.profile(ctx, inc, cmd, actor)
	case "page":
		return s.pageCommand(ctx, inc, c.Text, actor) // oncall.go
	}
	return s.change(ctx, inc, c, actor)
}

// change applies a lifecycle command and confirms it.
func (s *Server) change(ctx context.Context, inc *bot.Incident, c bot.Command, actor string) Reply {
	a, ok := c.Action(actor)
	if !ok {
		return ephemeral("%s is not a change; see /incident help", c.Verb)
	}
	inc, err := s.svc.Apply(ctx, inc.ID, a)
	if err != nil {
		return s.failed(ctx, err, c.Verb)
	}
	at := ""
	if c.When != "" {
		if t, err := bot.ParseWhen(c.When, s.svc.Zone(), s.svc.Now()); err == nil {
			at = " (at " + bot.Stamp(t, s.svc.Zone())
			if inc.BeforeDetection(t) {
				at += ", before detection"
			}
			at += ")"
		}
	}
	reply := inChannel("%s%s", describeChange(inc, c, bot.Mention(actor)), at)
	if s.svc.ChatEnabled() {
		// The bot posts the change into the channel itself (durably, from
		// the outbox), so the typist alone gets the confirmation.
		reply.ResponseType = Ephemeral
	}
	return reply
}

// describeChange says what a lifecycle command did, for the channel.
func describeChange(inc *bot.Incident, c bot.Command, actor string) string {
	key := inc.Key()
	c.Text = botslack.Escape(bot.NormalizeMentions(c.Text))
	switch c.Verb {
	case "ack":
		return fmt.Sprintf("%s acknowledged %s", actor, key)
	case "sev":
		return fmt.Sprintf("%s set the severity of %s to %s", actor, key, inc.Severity)
	case "status":
		return fmt.Sprintf("%s set the status of %s to %s", actor, key, inc.Status)
	case "lead":
		return fmt.Sprintf("%s made %s the lead of %s", actor, bot.Mention(inc.Lead), key)
	case "note":
		return fmt.Sprintf("%s noted on %s: %s", actor, key, c.Text)
	case "impact":
		return fmt.Sprintf("%s recorded the impact of %s: %s", actor, key, c.Text)
	case "cause":
		return fmt.Sprintf("%s recorded the cause of %s: %s", actor, key, c.Text)
	case "action":
		return fmt.Sprintf("%s added an action item to %s: %s", actor, key, c.Text)
	case "resolve":
		if c.Text != "" {
			return fmt.Sprintf("%s resolved %s: %s", actor, key, c.Text)
		}
		return fmt.Sprintf("%s resolved %s", actor, key)
	case "reopen":
		return fmt.Sprintf("%s reopened %s", actor, key)
	}
	return fmt.Sprintf("%s changed %s (%s)", actor, key, c.Verb)
}

func (s *Server) postmortem(ctx context.Context, inc *bot.Incident, actor string) Reply {
	if err := s.svc.Request(ctx, inc.ID, bot.DeliveryPostmortem, "", actor); err != nil {
		return s.failed(ctx, err, "postmortem")
	}
	text := fmt.Sprintf("The postmortem draft of %s will be posted here as a file shortly.", inc.Key())
	if link := s.link("/api/v1/incidents/%d/postmortem", inc.ID); link != "" {
		text += " It is also at " + link
	}
	return ephemeral("%s", text)
}

func (s *Server) runbook(ctx context.Context, inc *bot.Incident, name, actor string) Reply {
	if s.cfg.Runbooks == nil {
		return ephemeral("no runbooks are loaded")
	}
	if name == "" {
		return ephemeral("%s", runbookList(s.cfg.Runbooks, inc))
	}
	if _, ok := s.cfg.Runbooks.Get(name); !ok {
		return ephemeral("there is no runbook named %q. %s\nUsage: `%s`", name, runbookNames(s.cfg.Runbooks.All()), bot.Usage("runbook"))
	}
	if err := s.svc.Request(ctx, inc.ID, bot.DeliveryRunbook, name, actor); err != nil {
		return s.failed(ctx, err, "runbook")
	}
	return ephemeral("The runbook %s will be posted here as a checklist shortly.", name)
}

// notIncidentChannel explains where incident commands work, naming an
// open incident's channel as the example when there is one.
func (s *Server) notIncidentChannel(ctx context.Context, verb string) Reply {
	example := "#inc-12-..."
	open := true
	if list, err := s.svc.Incidents(ctx, bot.IncidentFilter{Open: &open, Limit: 20}); err == nil {
		chans := s.channels(ctx, list)
		for _, inc := range list {
			if name := chans[inc.ID].RoomName; name != "" {
				example = "#" + name
				break
			}
		}
	}
	return ephemeral("this channel is not an incident channel; use it in an incident's channel (e.g. %s)\nUsage: `%s`",
		example, bot.Usage(verb))
}

// failed turns an error into an ephemeral reply: bot's message and the
// usage line for a mistake, a plain "could not save" for an outage (which
// is logged; the user can only try again).
func (s *Server) failed(ctx context.Context, err error, verb string) Reply {
	switch status := statusOf(err); {
	case status == http.StatusBadRequest || status == http.StatusConflict:
		msg, usage, found := strings.Cut(userMessage(err), "; usage: ")
		if !found {
			usage = bot.Usage(verb)
		}
		if usage != "" {
			msg += "\nUsage: `" + usage + "`"
		}
		return ephemeral("%s", msg)
	case status == http.StatusNotFound:
		return ephemeral("%s", userMessage(err))
	default:
		s.logger(ctx).Error("slack command failed", "verb", verb, "err", err)
		return ephemeral("could not save, try again")
	}
}

// verbOf guesses the verb of a command that did not parse, for its usage.
func verbOf(text string) string {
	words := strings.Fields(text)
	if len(words) > 1 && bot.LooksLikeWhen(words[0]) {
		words = words[1:]
	}
	if len(words) == 0 {
		return ""
	}
	return strings.ToLower(words[0])
}

// link is an absolute link into the API, or "" without a public URL.
func (s *Server) link(format string, args ...any) string {
	if s.cfg.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(s.cfg.PublicURL, "/") + fmt.Sprintf(format, args...)
}
