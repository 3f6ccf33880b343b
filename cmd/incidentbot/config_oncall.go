package main

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"

	"github.com/incidentbot/incidentbot/bot"
)

// oncallFile is the on-call part of the config file: people's contacts
// and teams with their schedules and escalation policies.
type oncallFile struct {
	People map[string]struct {
		Email   string `yaml:"email"`
		Webhook string `yaml:"webhook"`
	} `yaml:"people"`
	Teams []struct {
		Name           string   `yaml:"name"`
		Match          []string `yaml:"match"`
		SlackUsergroup string   `yaml:"slack_usergroup"`
		SlackChannel   string   `yaml:"slack_channel"`
		Schedules      []struct {
			Name     string   `yaml:"name"`
			Timezone string   `yaml:"timezone"`
			Start    string   `yaml:"start"`
			Shift    string   `yaml:"shift"`
			Members  []string `yaml:"members"`
		} `yaml:"schedules"`
		Escalation []struct {
			After  string   `yaml:"after"`
			Notify []string `yaml:"notify"`
		} `yaml:"escalation"`
		Repeat int `yaml:"repeat"`
	} `yaml:"teams"`
}

var (
	slackUserID    = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)
	slackChannelID = regexp.MustCompile(`^[CG][A-Z0-9]{2,20}$`)
	slackGroupID   = regexp.MustCompile(`^S[A-Z0-9]{2,20}$`)
	teamName       = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
)

// maxRepeat bounds how often a policy starts over.
const maxRepeat = 20

// compile checks the on-call section and turns it into bot's types. Every
// error names where it is: `config: teams[0].escalation[1]: ...`.
func (f *oncallFile) compile() (*bot.OnCall, error) {
	oc := &bot.OnCall{People: map[string]bot.Contact{}}
	for id, p := range f.People {
		where := fmt.Sprintf("config: people.%s", id)
		if !slackUserID.MatchString(id) {
			return nil, fmt.Errorf("%s: %q is not a Slack user ID (U0123ABCD)", where, id)
		}
		if p.Email != "" {
			a, err := mail.ParseAddress(p.Email)
			if err != nil || a.Address != p.Email {
				return nil, fmt.Errorf("%s.email: %q is not a bare email address", where, p.Email)
			}
		}
		if p.Webhook != "" {
			if err := checkHTTPURL(p.Webhook); err != nil {
				return nil, fmt.Errorf("%s.webhook: %w", where, err)
			}
		}
		oc.People[id] = bot.Contact{Email: p.Email, Webhook: p.Webhook}
	}
	seen := map[string]bool{}
	for i, ft := range f.Teams {
		where := fmt.Sprintf("config: teams[%d]", i)
		if !teamName.MatchString(ft.Name) {
			return nil, fmt.Errorf("%s.name: %q must be 1 to 40 lowercase letters, digits, - or _", where, ft.Name)
		}
		if seen[ft.Name] {
			return nil, fmt.Errorf("%s.name: %q is the name of an earlier team", where, ft.Name)
		}
		seen[ft.Name] = true
		t := bot.Team{Name: ft.Name, UserGroup: ft.SlackUsergroup, Channel: ft.SlackChannel}
		if ft.SlackChannel != "" && !slackChannelID.MatchString(ft.SlackChannel) {
			return nil, fmt.Errorf("%s.slack_channel: %q is not a Slack channel ID (C0123ABCD)", where, ft.SlackChannel)
		}
		if ft.SlackUsergroup != "" && !slackGroupID.MatchString(ft.SlackUsergroup) {
			return nil, fmt.Errorf("%s.slack_usergroup: %q is not a Slack user group ID (S0123ABCD)", where, ft.SlackUsergroup)
		}
		if len(ft.Match) > 0 {
			sets := make([]amlabels.Matchers, 0, len(ft.Match))
			for j, m := range ft.Match {
				ms, err := amlabels.ParseMatchers(m)
				if err != nil {
					return nil, fmt.Errorf("%s.match[%d]: %q: %w", where, j, m, err)
				}
				sets = append(sets, ms)
			}
			t.Match = func(l map[string]string) bool { return anyMatch(sets, l) }
			t.MatchSpec = strings.Join(ft.Match, "\n")
		}
		names := map[string]bool{}
		for j, fs := range ft.Schedules {
			r, err := compileSchedule(fs.Name, fs.Timezone, fs.Start, fs.Shift, fs.Members)
			if err != nil {
				return nil, fmt.Errorf("%s.schedules[%d]: %w", where, j, err)
			}
			if names[r.Name] {
				return nil, fmt.Errorf("%s.schedules[%d].name: %q is the name of an earlier schedule of the team", where, j, r.Name)
			}
			names[r.Name] = true
			t.Schedules = append(t.Schedules, r)
		}
		if ft.Repeat < 0 || ft.Repeat > maxRepeat {
			return nil, fmt.Errorf("%s.repeat: %d must be 0 to %d", where, ft.Repeat, maxRepeat)
		}
		t.Escalation.Repeat = ft.Repeat
		var prev time.Duration
		for j, fe := range ft.Escalation {
			step, err := compileStep(fe.After, fe.Notify, names)
			if err != nil {
				return nil, fmt.Errorf("%s.escalation[%d]: %w", where, j, err)
			}
			if step.After < prev {
				return nil, fmt.Errorf("%s.escalation[%d].after: %s comes before the step above (%s); steps are measured from the start, in order", where, j, step.After, prev)
			}
			prev = step.After
			t.Escalation.Steps = append(t.Escalation.Steps, step)
		}
		if t.Match != nil && len(t.Escalation.Steps) == 0 {
			return nil, fmt.Errorf("%s.escalation: a team with match needs at least one step", where)
		}
		oc.Teams = append(oc.Teams, t)
	}
	return oc, nil
}

func compileSchedule(name, zone, start, shift string, members []string) (bot.Rotation, error) {
	r := bot.Rotation{Name: name, Members: members}
	if !teamName.MatchString(name) {
		return r, fmt.Errorf("name: %q must be 1 to 40 lowercase letters, digits, - or _", name)
	}
	if zone == "" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return r, fmt.Errorf("timezone: %q is not an IANA zone name (Europe/Berlin): %w", zone, err)
	}
	r.Zone = loc
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, start, loc); err == nil {
			r.Start = t
			break
		}
	}
	if r.Start.IsZero() {
		return r, fmt.Errorf("start: %q: want the first hand-off as YYYY-MM-DDTHH:MM, wall clock in the schedule's zone", start)
	}
	d, err := time.ParseDuration(shift)
	if err != nil || d <= 0 {
		return r, fmt.Errorf("shift: %q: want a length longer than zero, such as 24h or 168h", shift)
	}
	if d < time.Minute {
		return r, fmt.Errorf("shift: %s is shorter than a minute", d)
	}
	r.Shift = d
	if len(members) == 0 {
		return r, fmt.Errorf("members: a schedule needs at least one member")
	}
	for k, m := range members {
		if !slackUserID.MatchString(m) {
			return r, fmt.Errorf("members[%d]: %q is not a Slack user ID (U0123ABCD)", k, m)
		}
	}
	return r, nil
}

func compileStep(after string, notify []string, schedules map[string]bool) (bot.EscalationStep, error) {
	var step bot.EscalationStep
	d, err := time.ParseDuration(after)
	if after == "" {
		d, err = 0, nil
	}
	if err != nil || d < 0 {
		return step, fmt.Errorf("after: %q: want a duration from the policy's start, such as 0s or 5m", after)
	}
	step.After = d
	if len(notify) == 0 {
		return step, fmt.Errorf("notify: a step needs at least one target")
	}
	for k, n := range notify {
		kind, ref, _ := strings.Cut(n, ":")
		t := bot.Target{Kind: bot.TargetKind(kind), Ref: ref}
		switch t.Kind {
		case bot.TargetSchedule:
			if !schedules[ref] {
				return step, fmt.Errorf("notify[%d]: unknown schedule %q (the team's schedules are listed above its escalation)", k, ref)
			}
		case bot.TargetUser:
			if !slackUserID.MatchString(ref) {
				return step, fmt.Errorf("notify[%d]: %q is not a Slack user ID (U0123ABCD)", k, ref)
			}
		case bot.TargetChannel:
			if !slackChannelID.MatchString(ref) {
				return step, fmt.Errorf("notify[%d]: %q is not a Slack channel ID (C0123ABCD)", k, ref)
			}
		default:
			return step, fmt.Errorf("notify[%d]: %q: want schedule:<name>, user:<Slack user ID> or channel:<Slack channel ID>", k, n)
		}
		step.Notify = append(step.Notify, t)
	}
	return step, nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an absolute http or https URL", s)
	}
	if u.User != nil {
		return fmt.Errorf("the URL carries credentials; put them in the receiving gateway, not in the config")
	}
	return nil
}
