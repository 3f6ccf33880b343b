package bot

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Postmortem is the draft exported from an incident: what the timeline
// already knows, and clearly marked placeholders for what only people can
// write. It never invents a cause.
type Postmortem struct {
	Incident int64    `json:"incident"`
	Key      string   `json:"key"`
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	Status   Status   `json:"status"`
	Lead     string   `json:"lead"`
	// Zone is the time zone the times are written in.
	Zone       string   `json:"zone"`
	Responders []string `json:"responders"`
	// Duration is "June 20, 2024, 14:00 UTC to June 20, 2024, 16:30 UTC";
	// "... to (ongoing)" while unresolved.
	Duration   string `json:"duration"`
	Impact     string `json:"impact"`
	RootCause  string `json:"root_cause"`
	Resolution string `json:"resolution"`

	Metrics     Metrics         `json:"metrics"`
	Timeline    []TimelineEntry `json:"timeline"`
	Alerts      []Alert         `json:"alerts"`
	StepsDone   []StepDone      `json:"steps_done"`
	ActionItems []ActionItem    `json:"action_items"`
	ExportedAt  time.Time       `json:"exported_at"`
	// Names are how people are written in the draft, by user ID
	// ("Alice Example (@alice)"); someone missing is written by ID.
	Names map[string]string `json:"names,omitempty"`
	// URL is the incident's page in the web view, set by callers that know
	// incidentbot's public URL; "" leaves the link out.
	URL string `json:"url,omitempty"`
	// Graph is the API path of the metric graph of the alert expressions
	// (graph.go), empty when the alerts carry none; PublicURL makes it a link.
	Graph     string `json:"graph,omitempty"`
	PublicURL string `json:"-"`
	loc       *time.Location
}

// Metrics are the key times of an incident and the spans from detection.
// Times not reached are nil.
type Metrics struct {
	DetectedAt        time.Time  `json:"detected_at"`
	AcknowledgedAt    *time.Time `json:"acknowledged_at"`
	MitigatedAt       *time.Time `json:"mitigated_at"`
	ResolvedAt        *time.Time `json:"resolved_at"`
	TimeToAcknowledge *Span      `json:"time_to_acknowledge"`
	TimeToMitigate    *Span      `json:"time_to_mitigate"`
	TimeToResolve     *Span      `json:"time_to_resolve"`
}

// Span is a duration written for people ("2h 30m") and in seconds.
type Span struct {
	Seconds int64  `json:"seconds"`
	Text    string `json:"text"`
}

// Placeholder marks what the draft leaves for people to write.
const Placeholder = "TODO"

// Postmortem drafts the postmortem of incident id, with times in loc (UTC
// when nil).
func (s *Service) Postmortem(ctx context.Context, id int64, loc *time.Location) (*Postmortem, error) {
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	tl, err := s.Timeline(ctx, id)
	if err != nil {
		return nil, err
	}
	p := Draft(inc, tl, loc, s.Now())
	p.PublicURL = s.publicURL
	p.Names = ResolveNames(ctx, s.directory, p.People())
	return p, nil
}

// Draft builds the postmortem from an incident and its timeline (sorted as
// Service.Timeline sorts it). It is a pure function: the same input gives
// the same draft.
func Draft(inc *Incident, timeline []TimelineEntry, loc *time.Location, now time.Time) *Postmortem {
	if loc == nil {
		loc = time.UTC
	}
	p := &Postmortem{
		Incident: inc.ID, Key: inc.Key(), Title: inc.Title, Severity: inc.Severity, Status: inc.Status,
		Lead: PersonID(inc.Lead), Zone: loc.String(), Impact: inc.Impact, RootCause: inc.Cause, Resolution: inc.Resolution,
		Timeline: storyOf(inc, timeline), Alerts: inc.Alerts, StepsDone: inc.StepsDone, ActionItems: inc.ActionItems,
		ExportedAt: now.UTC(), loc: loc,
	}
	p.Metrics = metricsOf(inc)
	p.Responders = respondersOf(inc, timeline)
	end := "(ongoing)"
	if inc.ResolvedAt != nil {
		end = p.long(*inc.ResolvedAt)
	}
	p.Duration = p.long(inc.DetectedAt) + " to " + end
	if _, ok := GraphOf(inc, now); ok {
		p.Graph = fmt.Sprintf("/api/v1/incidents/%d/graph.png", inc.ID)
	}
	return p
}

// notStory are the entries the draft's timeline leaves out: the bot's own
// work in the chat, and the facts about the incident that the draft shows
// in their own sections (impact, cause, action items). They stay on the
// timeline itself, but the postmortem's timeline tells the story.
var notStory = map[Kind]bool{KindChannelCreated: true, KindRespondersInvited: true, KindRunbookPosted: true,
	KindPostmortemExported: true, KindDeliveryFailed: true, KindGraphFailed: true, KindImpact: true, KindCause: true, KindActionItem: true}

// storyOf keeps the entries the draft's timeline tells: not struck, not
// plumbing, not the facts shown elsewhere. Each carries its before-detection
// mark (worked out from inc for entries recorded before it was stored).
func storyOf(inc *Incident, timeline []TimelineEntry) []TimelineEntry {
	out := make([]TimelineEntry, 0, len(timeline))
	for _, e := range timeline {
		if !notStory[e.Kind] && !e.Struck {
			if e.BeforeDetection == nil {
				e.markDetection(inc)
			}
			out = append(out, e)
		}
	}
	return out
}

// MetricsOf returns the incident's key times and its time to acknowledge,
// mitigate and resolve: the numbers of the draft, for other views.
func MetricsOf(inc *Incident) Metrics { return metricsOf(inc) }

func metricsOf(inc *Incident) Metrics {
	m := Metrics{DetectedAt: inc.DetectedAt, AcknowledgedAt: inc.AcknowledgedAt, MitigatedAt: inc.MitigatedAt, ResolvedAt: inc.ResolvedAt}
	m.TimeToAcknowledge = spanFrom(inc.DetectedAt, inc.AcknowledgedAt)
	m.TimeToMitigate = spanFrom(inc.DetectedAt, inc.MitigatedAt)
	m.TimeToResolve = spanFrom(inc.DetectedAt, inc.ResolvedAt)
	return m
}

func spanFrom(start time.Time, end *time.Time) *Span {
	if end == nil {
		return nil
	}
	d := max(end.Sub(start), 0)
	return &Span{Seconds: int64(d / time.Second), Text: HumanDuration(d)}
}

// HumanDuration writes d as "45s", "5m", "2h 30m" or "1d 2h 5m".
func HumanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	days, d := d/(24*time.Hour), d%(24*time.Hour)
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%dd", days))
	}
	if h > 0 {
		parts = append(parts, fmt.Sprintf("%dh", h))
	}
	if m > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%dm", m))
	}
	return strings.Join(parts, " ")
}

// respondersOf lists the people who acted on the incident, in the order
// they first did, without the bot and Alertmanager.
// Each person appears once, by user ID, however they were written.
func respondersOf(inc *Incident, timeline []TimelineEntry) []string {
	seen := map[string]bool{}
	var out []string
	add := func(who string) {
		if id := PersonID(who); id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, e := range timeline {
		if !e.Struck {
			add(e.Actor)
		}
	}
	add(inc.Lead)
	return out
}

// People lists everyone the draft names, by user ID, each once: the
// responders, the lead, and people mentioned in what it quotes.
func (p *Postmortem) People() []string {
	seen := map[string]bool{}
	var out []string
	add := func(ids ...string) {
		for _, id := range ids {
			if id = PersonID(id); id != "" && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	add(p.Responders...)
	add(p.Lead)
	for _, e := range p.Timeline {
		add(MentionedPeople(e.Text)...)
	}
	for _, a := range p.ActionItems {
		add(a.By)
		add(MentionedPeople(a.Text)...)
	}
	for _, t := range []string{p.Impact, p.RootCause, p.Resolution} {
		add(MentionedPeople(t)...)
	}
	for _, st := range p.StepsDone {
		add(st.By)
	}
	return out
}

// ActorBot is the actor of entries the bot writes about itself (channel
// created, delivery failed...).
const ActorBot = "incidentbot"

// long writes "June 20, 2024, 14:00 UTC".
func (p *Postmortem) long(t time.Time) string {
	return t.In(p.loc).Format("January 2, 2006, 15:04 MST")
}

// clock writes "14:05 UTC", with the date when the incident spans days.
func (p *Postmortem) clock(t time.Time, withDate bool) string {
	if withDate {
		return t.In(p.loc).Format("January 2, 15:04 MST")
	}
	return t.In(p.loc).Format("15:04 MST")
}

// spansDays reports whether the timeline covers more than one calendar day
// in the draft's zone.
func (p *Postmortem) spansDays() bool {
	day := func(t time.Time) string { return t.In(p.loc).Format("2006-01-02") }
	first := day(p.Metrics.DetectedAt)
	for _, e := range p.Timeline {
		if day(e.At) != first {
			return true
		}
	}
	return p.Metrics.ResolvedAt != nil && day(*p.Metrics.ResolvedAt) != first
}
