package main

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"text/template"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/heapprofile"
	"github.com/incidentbot/incidentbot/internal/hostallow"
)

// loopFile is the part of the config file about Alertmanager and
// Prometheus in the loop: silences and heap profiles.
type loopFile struct {
	Silences struct {
		// ExpireOnResolve ends an incident's silences when it resolves;
		// default true.
		ExpireOnResolve *bool `yaml:"expire_on_resolve"`
	} `yaml:"silences"`
	Profiles []struct {
		Match []string `yaml:"match"`
		URL   string   `yaml:"url"`
		Allow []string `yaml:"allow"`
		After string   `yaml:"after"`
	} `yaml:"profiles"`
}

// loopConfig is loopFile checked.
type loopConfig struct {
	KeepSilences bool
	profiles     []profileRule
}

type profileRule struct {
	match []amlabels.Matchers
	url   *template.Template // nil: the entry only admits pprof_url hosts
	allow []string
	after time.Duration
}

// maxProfileAfter bounds the second capture's delay.
const maxProfileAfter = 24 * time.Hour

func (f *loopFile) compile() (*loopConfig, error) {
	c := &loopConfig{}
	if e := f.Silences.ExpireOnResolve; e != nil && !*e {
		c.KeepSilences = true
	}
	for i, p := range f.Profiles {
		where := fmt.Sprintf("config: profiles[%d]", i)
		r := profileRule{allow: p.Allow}
		var err error
		if r.match, err = parseMatcherSets(fmt.Sprintf("profiles[%d].match", i), p.Match); err != nil {
			return nil, err
		}
		if len(p.Allow) == 0 {
			return nil, fmt.Errorf("%s.allow: list the hosts or networks that may be fetched from", where)
		}
		if _, err := hostallow.Parse(p.Allow); err != nil {
			return nil, fmt.Errorf("%s.allow: %w", where, err)
		}
		if p.URL != "" {
			if len(r.match) == 0 {
				return nil, fmt.Errorf("%s.match: an entry with a url needs matchers saying which alerts it profiles", where)
			}
			if r.url, err = template.New("url").Option("missingkey=error").Parse(p.URL); err != nil {
				return nil, fmt.Errorf("%s.url: %w", where, err)
			}
		}
		if p.After != "" {
			d, err := bot.ParseSpan(p.After)
			if err != nil || d > maxProfileAfter {
				return nil, fmt.Errorf("%s.after %q: want a duration like 10m, at most 24h", where, p.After)
			}
			r.after = d
		}
		c.profiles = append(c.profiles, r)
	}
	return c, nil
}

// Profiling reports whether any profiles entry is configured.
func (c *loopConfig) Profiling() bool { return len(c.profiles) > 0 }

// ProfileTargets returns where an alert's heap profiles come from: the
// URL of each entry whose matchers fit it, and its pprof_url annotation
// when some entry's allow-list admits that host. URLs that do not render
// or whose host the entry does not allow are left out.
func (c *loopConfig) ProfileTargets(a bot.Alert) []bot.ProfileTarget {
	var out []bot.ProfileTarget
	data := struct{ Labels, Annotations map[string]string }{a.Labels, a.Annotations}
	for _, r := range c.profiles {
		if r.url == nil || !anyMatch(r.match, a.Labels) {
			continue
		}
		var b bytes.Buffer
		if err := r.url.Execute(&b, data); err != nil || b.Len() > 2000 {
			continue
		}
		raw := strings.TrimSpace(b.String())
		if _, _, err := heapprofile.CheckURL(raw, r.allow); err == nil {
			out = append(out, bot.ProfileTarget{URL: raw, Allow: r.allow, After: r.after})
		}
	}
	if raw := strings.TrimSpace(a.Annotations["pprof_url"]); raw != "" && len(raw) <= 2000 {
		for _, r := range c.profiles {
			if _, _, err := heapprofile.CheckURL(raw, r.allow); err == nil {
				out = append(out, bot.ProfileTarget{URL: raw, Allow: r.allow, After: r.after})
				break
			}
		}
	}
	return out
}

// profileDir is where captured profiles are kept: beside the database.
func profileDir(db string) string {
	if u, err := url.Parse(db); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		return "incidentbot-profiles" // a database URL: the working directory
	}
	return db + ".profiles"
}

// newProfiling builds the profiler and its file store when the config has
// profiles entries; without them there is no profiling at all (nil, nil).
func newProfiling(cfg *config, st *settings) (bot.Profiler, bot.ProfileBlobs, error) {
	if !cfg.Loop.Profiling() {
		return nil, nil, nil
	}
	dir, err := heapprofile.NewDir(profileDir(st.DB))
	if err != nil {
		return nil, nil, err
	}
	return heapprofile.New(heapprofile.Options{}), dir, nil
}
