package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// TeamIndex identifies the teams' matches as configured: the incident
// header's Teams list is kept under it (Incident.TeamsOf), so that a
// reader can tell the list from a config that matched differently. It is
// "" when some team's Match has no MatchSpec, and then no list is kept.
func (o *OnCall) TeamIndex() string {
	if o == nil || len(o.Teams) == 0 {
		return ""
	}
	h := sha256.New()
	for i := range o.Teams {
		t := &o.Teams[i]
		if t.Match != nil && t.MatchSpec == "" {
			return ""
		}
		h.Write([]byte(t.Name))
		h.Write([]byte{0})
		h.Write([]byte(t.MatchSpec))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// KnownTeams returns the teams whose match fits one of the incident's
// alerts, in config order, from the list its header keeps, and whether
// that list holds: kept under this config. When it does not (an incident
// from before the list existed, or from another team config), the caller
// matches the alerts themselves.
func (o *OnCall) KnownTeams(inc *Incident) ([]string, bool) {
	v := o.TeamIndex()
	if v == "" || inc.TeamsOf != v {
		return nil, false
	}
	var out []string
	for i := range o.Teams {
		if slices.Contains(inc.Teams, o.Teams[i].Name) {
			out = append(out, o.Teams[i].Name)
		}
	}
	return out, true
}

// noteTeams keeps inc's team list as alerts join it or change: a fresh
// incident (all its alerts in alerts) starts the list under the current
// config; an incident whose list was kept under it adds the teams these
// alerts match. It reports whether the list changed. A team stays listed
// when the alert that matched it changes its labels: the list says which
// teams the incident's alerts have matched.
func (s *Service) noteTeams(inc *Incident, alerts []Alert, fresh bool) bool {
	v := s.oncall.TeamIndex()
	switch {
	case fresh:
		inc.Teams, inc.TeamsOf = nil, v
	case v == "" || inc.TeamsOf != v:
		return false
	}
	if v == "" {
		return false
	}
	changed := false
	for i := range s.oncall.Teams {
		t := &s.oncall.Teams[i]
		if t.Match == nil || slices.Contains(inc.Teams, t.Name) {
			continue
		}
		for j := range alerts {
			if t.Match(alerts[j].Labels) {
				inc.Teams = append(inc.Teams, t.Name)
				changed = true
				break
			}
		}
	}
	return changed
}
