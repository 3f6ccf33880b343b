package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/webhooks"
)

// fileConfig is the optional YAML file (INCIDENTBOT_CONFIG).
type fileConfig struct {
	// Timezone is the zone postmortem drafts are written in (IANA name).
	Timezone      string `yaml:"timezone"`
	ChannelPrefix string `yaml:"channel_prefix"`
	// OpenIncidentsFor lists matcher sets in Alertmanager syntax; an alert
	// opens an incident when it matches any of them. Empty: every alert.
	OpenIncidentsFor []string `yaml:"open_incidents_for"`
	// KeepOpenWhenAlertsResolve leaves incidents open when their alerts clear.
	KeepOpenWhenAlertsResolve bool `yaml:"keep_open_when_alerts_resolve"`
	Severity                  struct {
		Label   string            `yaml:"label"`
		Default string            `yaml:"default"`
		Map     map[string]string `yaml:"map"`
	} `yaml:"severity"`
	Responders []struct {
		Match      string   `yaml:"match"`
		SlackUsers []string `yaml:"slack_users"`
	} `yaml:"responders"`
	OnCall oncallFile `yaml:",inline"` // people and teams: config_oncall.go
	Loop   loopFile   `yaml:",inline"` // silences and profiles: config_profiles.go
	Access accessFile `yaml:"access"`  // who may change incidents: config_access.go
}

// config is the file, checked and turned into what the packages take.
type config struct {
	Policy        bot.Policy
	Zone          *time.Location
	ChannelPrefix string
	responders    []responderRule
	OnCall        *bot.OnCall
	Loop          *loopConfig
	Access        webhooks.Access
}

type responderRule struct {
	match amlabels.Matchers
	users []string
}

// loadConfig reads the YAML file at path; an empty path gives the defaults.
func loadConfig(path string) (*config, error) {
	var fc fileConfig
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	return fc.compile()
}

func (fc *fileConfig) compile() (*config, error) {
	c := &config{Zone: time.UTC, ChannelPrefix: "inc"}
	if fc.Timezone != "" {
		loc, err := time.LoadLocation(fc.Timezone)
		if err != nil {
			return nil, fmt.Errorf("config timezone %q: %w", fc.Timezone, err)
		}
		c.Zone = loc
	}
	if fc.ChannelPrefix != "" {
		p := strings.ToLower(fc.ChannelPrefix)
		if strings.Trim(p, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" || len(p) > 20 {
			return nil, fmt.Errorf("config channel_prefix %q: want at most 20 lowercase letters, digits, - or _", fc.ChannelPrefix)
		}
		c.ChannelPrefix = p
	}
	c.Policy.KeepOpenWhenAlertsResolve = fc.KeepOpenWhenAlertsResolve
	c.Policy.SeverityLabel = fc.Severity.Label
	if fc.Severity.Default != "" {
		sev, err := bot.ParseSeverity(fc.Severity.Default)
		if err != nil {
			return nil, fmt.Errorf("config severity.default: %w", err)
		}
		c.Policy.Unknown = sev
	}
	if len(fc.Severity.Map) > 0 {
		c.Policy.Severities = bot.DefaultSeverities()
		for k, v := range fc.Severity.Map {
			sev, err := bot.ParseSeverity(v)
			if err != nil {
				return nil, fmt.Errorf("config severity.map[%s]: %w", k, err)
			}
			c.Policy.Severities[strings.ToLower(k)] = sev
		}
	}
	opens, err := parseMatcherSets("open_incidents_for", fc.OpenIncidentsFor)
	if err != nil {
		return nil, err
	}
	if len(opens) > 0 {
		c.Policy.Opens = func(l map[string]string) bool { return anyMatch(opens, l) }
	}
	for i, r := range fc.Responders {
		ms, err := amlabels.ParseMatchers(r.Match)
		if err != nil {
			return nil, fmt.Errorf("config responders[%d].match %q: %w", i, r.Match, err)
		}
		c.responders = append(c.responders, responderRule{match: ms, users: r.SlackUsers})
	}
	if c.OnCall, err = fc.OnCall.compile(); err != nil {
		return nil, err
	}
	if c.Loop, err = fc.Loop.compile(); err != nil {
		return nil, err
	}
	if c.Access, err = fc.Access.compile(); err != nil {
		return nil, err
	}
	return c, nil
}

func parseMatcherSets(field string, sets []string) ([]amlabels.Matchers, error) {
	out := make([]amlabels.Matchers, 0, len(sets))
	for i, s := range sets {
		ms, err := amlabels.ParseMatchers(s)
		if err != nil {
			return nil, fmt.Errorf("config %s[%d] %q: %w", field, i, s, err)
		}
		out = append(out, ms)
	}
	return out, nil
}

func anyMatch(sets []amlabels.Matchers, l map[string]string) bool {
	ls := make(model.LabelSet, len(l))
	for k, v := range l {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	for _, ms := range sets {
		if ms.Matches(ls) {
			return true
		}
	}
	return false
}

// RespondersFor returns the Slack users the config names for an alert's
// labels, in config order, without duplicates.
func (c *config) RespondersFor(labels map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range c.responders {
		if !anyMatch([]amlabels.Matchers{r.match}, labels) {
			continue
		}
		for _, u := range r.users {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	return out
}
