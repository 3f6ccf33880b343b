package main

import (
	"fmt"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/promgraph"
)

// newGrapher builds the Prometheus adapter for INCIDENTBOT_PROMETHEUS_URL.
// "off" turns graphs off, so that the bot contacts no Prometheus at all
// (an operator's choice, and what tests whose alerts name made-up hosts
// need). The result is a nil interface then, never a typed nil that bot
// would take for a working Grapher.
func newGrapher(url string) (bot.Grapher, error) {
	if strings.EqualFold(strings.TrimSpace(url), "off") {
		return nil, nil
	}
	g, err := promgraph.New(promgraph.Options{URL: url})
	if err != nil {
		return nil, fmt.Errorf("prometheus-url: %w", err)
	}
	return g, nil
}
