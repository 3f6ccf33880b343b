package slack

import (
	"context"
	"fmt"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
)

// matchedRunbooks posts, when opening, each runbook matching the alerts
// that has no checklist in the channel yet, one per step.
func (c *Client) matchedRunbooks(ctx context.Context, inc *bot.Incident, d bot.Delivery) (bot.ChatResult, bool, error) {
	if c.o.Runbooks == nil || d.Kind != bot.DeliveryOpen {
		return bot.ChatResult{}, false, nil
	}
	for _, rb := range c.o.Runbooks.Match(inc.Alerts) {
		if _, ok := inc.Chat.Runbook(rb.Name); !ok {
			return c.postRunbook(ctx, inc, d, rb)
		}
	}
	return bot.ChatResult{}, false, nil
}

// runbook posts what `/incident runbook [name]` asked for: the named
// runbook, or every runbook matching the alerts (again), or, when none
// matches, a message naming the runbooks there are.
func (c *Client) runbook(ctx context.Context, inc *bot.Incident, d bot.Delivery) (bot.ChatResult, error) {
	switch {
	case inc.SlackChannelID == "":
		return bot.ChatResult{}, fmt.Errorf("%w: %s has no Slack channel", bot.ErrConflict, inc.Key())
	case c.o.Runbooks == nil:
		return bot.ChatResult{}, fmt.Errorf("%w: no runbooks are configured", bot.ErrConflict)
	case d.Ref != "":
		if m, ok := inc.Chat.Runbook(d.Ref); ok && m.Delivery == d.ID {
			return bot.ChatResult{}, nil
		}
		rb, ok := c.o.Runbooks.Get(d.Ref)
		if !ok {
			return bot.ChatResult{}, fmt.Errorf("%w: no runbook named %q", bot.ErrNotFound, d.Ref)
		}
		res, _, err := c.postRunbook(ctx, inc, d, rb)
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
		return bot.ChatResult{}, nil
	}
	return bot.ChatResult{}, c.noRunbook(ctx, inc)
}

func (c *Client) noRunbook(ctx context.Context, inc *bot.Incident) error {
	var names []string
	for _, rb := range c.o.Runbooks.All() {
		names = append(names, code(rb.Name))
	}
	text := "No runbook matches the alerts of " + inc.Key() + ", and no runbooks are configured."
	if len(names) > 0 {
		text = "No runbook matches the alerts of " + inc.Key() + ". Post one with `/incident runbook <name>`: " + strings.Join(names, ", ")
	}
	_, err := c.postMessage(ctx, inc.SlackChannelID, clip(text, 3000), nil)
	return err
}

// postRunbook posts rb as a checklist and records its message, in place
// of an earlier one of the same runbook (whose progress no longer moves).
func (c *Client) postRunbook(ctx context.Context, inc *bot.Incident, d bot.Delivery, rb bot.Runbook) (bot.ChatResult, bool, error) {
	text, blocks := c.view.runbook(inc, rb)
	ts, err := c.postMessage(ctx, inc.SlackChannelID, text, blocks)
	if err != nil && !optional(err) {
		return bot.ChatResult{}, false, err
	}
	st := state(inc)
	setRunbook(st, bot.RunbookMessage{Name: rb.Name, TS: ts, Done: doneCount(inc, rb), Delivery: d.ID})
	if err != nil {
		return warn(st, "post runbook "+rb.Name, err)
	}
	return bot.ChatResult{State: st, Runbook: rb.Name, RunbookSteps: len(rb.Steps)}, true, nil
}

func setRunbook(st *bot.ChatState, m bot.RunbookMessage) {
	for i := range st.Runbooks {
		if st.Runbooks[i].Name == m.Name {
			st.Runbooks[i] = m
			return
		}
	}
	st.Runbooks = append(st.Runbooks, m)
}

// syncRunbooks edits the checklists whose progress changed (a step was
// marked done), one per call.
func (c *Client) syncRunbooks(ctx context.Context, inc *bot.Incident, d bot.Delivery) (bot.ChatResult, bool, error) {
	if c.o.Runbooks == nil {
		return bot.ChatResult{}, false, nil
	}
	for _, m := range inc.Chat.Runbooks {
		rb, ok := c.o.Runbooks.Get(m.Name)
		if m.TS == "" || !ok || doneCount(inc, rb) == m.Done {
			continue
		}
		text, blocks := c.view.runbook(inc, rb)
		err := c.update(ctx, inc.SlackChannelID, m.TS, text, blocks)
		st := state(inc)
		m.Done = doneCount(inc, rb)
		setRunbook(st, m)
		if optional(err) {
			return warn(st, "update runbook "+rb.Name, err)
		}
		return bot.ChatResult{State: st}, err == nil, err
	}
	return bot.ChatResult{}, false, nil
}
