package main

import (
	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/slack"
	"github.com/incidentbot/incidentbot/runbooks"
)

// slackCheck lets `runbooks lint` report what Slack's limits would spoil
// in a runbook's checklist.
func slackCheck(rb bot.Runbook) []runbooks.Finding {
	var out []runbooks.Finding
	for _, f := range slack.CheckRunbook(rb) {
		out = append(out, runbooks.Finding{Step: f.Step, Msg: "slack: " + f.Msg})
	}
	return out
}
