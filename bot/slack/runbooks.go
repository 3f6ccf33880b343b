package slack

import (
	"context"
	"fmt"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// matchedRunbooks posts, when opening, each runbook matching the alerts
// that has no checklist in the channel yet, one per step.
func (c *Client) matchedRunbooks(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	// On opening, and on each refresh of an open incident: a runbook that
	// an alert joining later newly matches is posted then, once.
	if c.o.Runbooks == nil || (d.Kind != bot.DeliveryOpen && (d.Kind != bot.DeliveryRefresh || !inc.Open())) {
		return result{}, false, nil
	}
	for _, rb := range c.o.Runbooks.Match(inc.Alerts) {
		if _, ok := inc.Chat.Runbook(rb.Name); !ok {
			return c.postRunbook(ctx, inc, d, rb)
		}
	}
	return result{}, false, nil
}

// runbook posts what `/incident runbook [name]` asked for: the named
// runbook, or every runbook matching the alerts (again), or, when none
// matches, a message naming the runbooks there are. Each checklist is
// followed by its note in the channel.
func (c *Client) runbook(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	switch {
	case inc.ChannelID == "":
		return result{}, fmt.Errorf("%w: %s has no Slack channel", bot.ErrConflict, inc.Key())
	case c.o.Runbooks == nil:
		return result{}, fmt.Errorf("%w: no runbooks are configured", bot.ErrConflict)
	}
	if res, did, err := c.runbookNotes(ctx, inc, d); did || err != nil {
		res.More = did && err == nil
		return res, err
	}
	if d.Ref != "" {
		if m, ok := inc.Chat.Runbook(d.Ref); ok && m.Delivery == d.ID {
			return result{}, nil
		}
		rb, ok := c.o.Runbooks.Get(d.Ref)
		if !ok {
			return result{}, fmt.Errorf("%w: no runbook named %q", bot.ErrNotFound, d.Ref)
		}
		res, did, err := c.postRunbook(ctx, inc, d, rb)
		res.More = did && err == nil
		return res, err
	}
	posted := false
	for _, rb := range c.o.Runbooks.Match(inc.Alerts) {
		if m, ok := inc.Chat.Runbook(rb.Name); ok && m.Delivery == d.ID {
			posted = true
			continue
		}
		res, did, err := c.postRunbook(ctx, inc, d, rb)
		res.More = did
		return res, err
	}
	if posted {
		return result{}, nil
	}
	return result{}, c.noRunbook(ctx, inc)
}

func (c *Client) noRunbook(ctx context.Context, inc *incident) error {
	var names []string
	for _, rb := range c.o.Runbooks.All() {
		names = append(names, code(rb.Name))
	}
	text := "No runbook matches the alerts of " + inc.Key() + ", and no runbooks are configured."
	if len(names) > 0 {
		text = "No runbook matches the alerts of " + inc.Key() + ". Post one with `/incident runbook <name>`: " + strings.Join(names, ", ")
	}
	_, err := c.postMessage(ctx, inc.ChannelID, clip(text, 3000), nil)
	return err
}

// postRunbook posts rb as a checklist and records its message, in place
// of an earlier one of the same runbook (whose progress no longer moves).
// The checklist goes into the thread of the incident message, so that a
// long runbook does not push the incident message and its buttons out of
// sight; runbookNotes then says in the channel which runbook matched and
// why.
func (c *Client) postRunbook(ctx context.Context, inc *incident, d bot.Delivery, rb bot.Runbook) (result, bool, error) {
	text, blocks := c.view.runbook(inc.Incident, rb)
	ts, err := c.postReply(ctx, inc.ChannelID, inc.MessageTS, text, blocks)
	if err != nil && !optional(err) {
		return result{}, false, err
	}
	st := state(inc)
	setRunbook(st, RunbookMessage{Name: rb.Name, TS: ts, Done: doneCount(inc.Incident, rb), Steps: len(rb.Steps),
		Progress: digest(text, blocks), Delivery: d.ID, Reason: rb.Reason})
	if err != nil {
		return warn(st, "post runbook "+rb.Name, err)
	}
	return result{State: st, Runbook: rb.Name, RunbookSteps: len(rb.Steps)}, true, nil
}

// runbookNotes posts, for a checklist this delivery posted, the note in
// the channel: which runbook, why it matched (or who asked for it), and
// where the checklist is.
func (c *Client) runbookNotes(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	for _, m := range inc.Chat.Runbooks {
		if m.TS == "" || m.NoteTS != "" || m.Delivery != d.ID || d.ID == 0 {
			continue
		}
		ts, err := c.postMessage(ctx, inc.ChannelID, runbookNote(inc, m, d), nil)
		if err != nil && !optional(err) {
			return result{}, false, err
		}
		st := state(inc)
		m.NoteTS = orElse(ts, "-") // "-": given up, not to be tried again
		setRunbook(st, m)
		if err != nil {
			return warn(st, "post the note of runbook "+m.Name, err)
		}
		return result{State: st}, true, nil
	}
	return result{}, false, nil
}

// runbookNote words the channel's note about a posted checklist.
func runbookNote(inc *incident, m RunbookMessage, d bot.Delivery) string {
	where := "in the thread of the incident message"
	if inc.MessageTS == "" {
		where = "below"
	}
	why := "posted by " + mention(d.Actor) + " with `/incident runbook`"
	switch {
	case m.Reason != "":
		why = "matched: " + code(clip(oneLine(m.Reason), 1500)) // it quotes labels: data, not markup
	case d.Kind == bot.DeliveryOpen || d.Actor == "" || d.Actor == bot.ActorBot:
		why = "matches the alerts"
	}
	return fmt.Sprintf("📋 Runbook %s is %s (%s). Mark its steps Done, Skip or Undo there; the checklist shows who and when.",
		code(m.Name), where, why)
}

func setRunbook(st *ChatState, m RunbookMessage) {
	for i := range st.Runbooks {
		if st.Runbooks[i].Name == m.Name {
			st.Runbooks[i] = m
			return
		}
	}
	st.Runbooks = append(st.Runbooks, m)
}

// syncRunbooks edits the checklists whose content changed (a step was
// marked or unmarked, a variable filled by a new alert), one per call.
func (c *Client) syncRunbooks(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	if c.o.Runbooks == nil {
		return result{}, false, nil
	}
	for _, m := range inc.Chat.Runbooks {
		rb, ok := c.o.Runbooks.Get(m.Name)
		if m.TS == "" || !ok {
			continue
		}
		text, blocks := c.view.runbook(inc.Incident, rb)
		if h := digest(text, blocks); h == m.Progress {
			continue
		}
		err := c.update(ctx, inc.ChannelID, m.TS, text, blocks)
		st := state(inc)
		m.Done, m.Progress, m.Steps = doneCount(inc.Incident, rb), digest(text, blocks), len(rb.Steps)
		setRunbook(st, m)
		if optional(err) {
			return warn(st, "update runbook "+rb.Name, err)
		}
		return result{State: st}, err == nil, err
	}
	return result{}, false, nil
}

// postReply posts a message into the thread of threadTS, or into the
// channel when threadTS is empty, and returns its ts.
func (c *Client) postReply(ctx context.Context, channel, threadTS, text string, blocks []slackgo.Block) (string, error) {
	if threadTS == "" {
		return c.postMessage(ctx, channel, text, blocks)
	}
	opts := []slackgo.MsgOption{slackgo.MsgOptionText(text, false), slackgo.MsgOptionDisableLinkUnfurl(),
		slackgo.MsgOptionBlocks(blocks...), slackgo.MsgOptionTS(threadTS)}
	var ts string
	err := c.call(ctx, "chat.postMessage", channel, func(ctx context.Context) (err error) {
		_, ts, err = c.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	return ts, err
}
