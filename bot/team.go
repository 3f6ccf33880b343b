package bot

import (
	"fmt"
	"strings"
	"time"
)

// Team is a group of people on call together: its schedules, the alerts
// that page it and its escalation policy. Teams come from the config file.
type Team struct {
	Name string
	// Match reports whether an alert with these labels pages the team; nil
	// matches nothing (the team is paged by hand only).
	Match func(labels map[string]string) bool
	// MatchSpec is Match as configured (its matchers, in order): two
	// configs with the same names and specs match alike. The incidents'
	// team lists are kept only when every team with a Match has one.
	MatchSpec string
	// UserGroup is the Slack user group kept equal to who is on call now;
	// "" means none.
	UserGroup string
	// Channel gets a one-line note at each hand-off; "" means none.
	Channel    string
	Schedules  []Rotation
	Escalation Escalation
}

// Schedule returns the team's schedule with this name.
func (t *Team) Schedule(name string) (*Rotation, bool) {
	for i := range t.Schedules {
		if t.Schedules[i].Name == name {
			return &t.Schedules[i], true
		}
	}
	return nil, false
}

// Contact is how to reach a person beyond a chat DM.
type Contact struct {
	Email   string
	Webhook string
}

// OnCall is the on-call configuration: teams and people's contacts.
type OnCall struct {
	Teams  []Team
	People map[string]Contact
}

// Team returns the team with this name, or an error wrapping ErrNotFound
// that lists the teams there are.
func (o *OnCall) Team(name string) (*Team, error) {
	if o != nil {
		for i := range o.Teams {
			if o.Teams[i].Name == name {
				return &o.Teams[i], nil
			}
		}
	}
	return nil, fmt.Errorf("%w: no team named %q (teams: %s)", ErrNotFound, name, o.teamNames())
}

func (o *OnCall) teamNames() string {
	if o == nil || len(o.Teams) == 0 {
		return "none configured"
	}
	var s strings.Builder
	for i, t := range o.Teams {
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString(t.Name)
	}
	return s.String()
}

// TeamsFor returns the teams whose Match fits one of the incident's
// firing alerts, in config order.
func (o *OnCall) TeamsFor(inc *Incident) []*Team {
	if o == nil {
		return nil
	}
	var out []*Team
	for i := range o.Teams {
		t := &o.Teams[i]
		if t.Match == nil {
			continue
		}
		for _, a := range inc.Alerts {
			if a.Status == AlertFiring && t.Match(a.Labels) {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

// ScheduleNow is who is on call for one schedule of a team, at a moment.
type ScheduleNow struct {
	Name   string `json:"name"`
	OnCall string `json:"on_call"`
	// Since and Until are null when the stretch reaches further than a
	// month or three shifts (a schedule of one person).
	Since *time.Time `json:"since"`
	Until *time.Time `json:"until"`
	// Next is who takes over at Until; empty when nobody else is ahead.
	Next     string `json:"next"`
	Override bool   `json:"override,omitempty"`
}

// TeamNow is who is on call for a team, every schedule.
type TeamNow struct {
	Team      string        `json:"team"`
	Schedules []ScheduleNow `json:"schedules"`
}

// Now returns who is on call in every schedule of t at now, with the
// stored overrides of the team applied.
func (t *Team) Now(overrides []Override, now time.Time) TeamNow {
	out := TeamNow{Team: t.Name, Schedules: []ScheduleNow{}}
	for _, r := range t.Schedules {
		oc := r.OnCall(overridesOf(overrides, t.Name, r.Name), now)
		out.Schedules = append(out.Schedules, ScheduleNow{Name: r.Name, OnCall: oc.Now.User, Since: nonZero(oc.Now.Start),
			Until: nonZero(oc.Now.End), Next: oc.Next.User, Override: oc.Now.Override})
	}
	return out
}

// overridesOf keeps the overrides of one schedule.
func overridesOf(all []Override, team, schedule string) []Override {
	var out []Override
	for _, o := range all {
		if o.Team == team && o.Schedule == schedule {
			out = append(out, o)
		}
	}
	return out
}

func nonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
