package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/alertmanager"
	"github.com/incidentbot/incidentbot/bot/promgraph"
)

// newGrapher builds the Prometheus adapter for INCIDENTBOT_PROMETHEUS_URL.
// "off" turns graphs off, so that the bot contacts no Prometheus at all
// (an operator's choice, and what tests whose alerts name made-up hosts
// need); so does an empty setting with no derived hosts allowed, since
// the generatorURL's host is then never contacted. The result is a nil
// interface then, never a typed nil that bot would take for a working
// Grapher.
func newGrapher(st *settings, log *slog.Logger) (bot.Grapher, error) {
	url := st.PrometheusURL
	if strings.EqualFold(strings.TrimSpace(url), "off") {
		return nil, nil
	}
	if url == "" && st.DerivedHosts.Empty() {
		log.Info("graphs are off: set INCIDENTBOT_PROMETHEUS_URL, or INCIDENTBOT_DERIVED_HOSTS to let alerts' generatorURL hosts be asked")
		return nil, nil
	}
	g, err := promgraph.New(promgraph.Options{URL: url, Allow: st.DerivedHosts})
	if err != nil {
		return nil, fmt.Errorf("prometheus-url: %w", err)
	}
	return g, nil
}

// newSilencer builds the Alertmanager adapter for silences, or nil (a nil
// interface) when no Alertmanager may be contacted: no
// INCIDENTBOT_ALERTMANAGER_URL and no derived hosts allowed.
func newSilencer(st *settings, log *slog.Logger) (bot.Silencer, error) {
	if len(st.AlertmanagerURLs) == 0 && st.DerivedHosts.Empty() {
		log.Info("silences are off: set INCIDENTBOT_ALERTMANAGER_URL, or INCIDENTBOT_DERIVED_HOSTS to let groups' externalURL hosts be asked")
		return nil, nil
	}
	c, err := alertmanager.New(alertmanager.Options{URLs: st.AlertmanagerURLs, Allow: st.DerivedHosts})
	if err != nil {
		return nil, fmt.Errorf("alertmanager-url: %w", err)
	}
	return c, nil
}
