package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Severity ranks an incident, SEV1 being the worst. The zero value is not a
// valid severity.
type Severity int

// The four severities.
const (
	SEV1 Severity = iota + 1
	SEV2
	SEV3
	SEV4
)

// String renders the severity as "SEV1"..."SEV4".
func (s Severity) String() string {
	if !s.Valid() {
		return "SEV?"
	}
	return "SEV" + strconv.Itoa(int(s))
}

// Valid reports whether s is one of SEV1..SEV4.
func (s Severity) Valid() bool { return s >= SEV1 && s <= SEV4 }

// ParseSeverity accepts the ways people write a severity: "SEV1", "sev1",
// "SEV-1", "sev 1", "P1", "1" (and so on up to 4).
func ParseSeverity(s string) (Severity, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(t, "sev"):
		t = strings.TrimLeft(t[3:], " -_")
	case strings.HasPrefix(t, "p"):
		t = t[1:]
	}
	n, err := strconv.Atoi(t)
	if err != nil || !Severity(n).Valid() || !isDigits(t) {
		return 0, fmt.Errorf("%w: severity %s: want 1, 2, 3 or 4 (or SEV1...SEV4, P1...P4)", ErrInvalid, Quote(s))
	}
	return Severity(n), nil
}

// MarshalText writes "SEV1"...
func (s Severity) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("%w: severity %d", ErrInvalid, int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads what MarshalText writes.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Status is where an incident is in its lifecycle.
type Status string

// The statuses, in their usual order.
const (
	StatusInvestigating Status = "investigating"
	StatusIdentified    Status = "identified"
	StatusMonitoring    Status = "monitoring"
	StatusResolved      Status = "resolved"
)

// ParseStatus accepts one of the four status names, and "mitigated" for
// monitoring: the draft's Mitigated time is when the incident first reached
// monitoring, so the two words name one status.
func ParseStatus(s string) (Status, error) {
	switch st := Status(strings.ToLower(strings.TrimSpace(s))); st {
	case StatusInvestigating, StatusIdentified, StatusMonitoring, StatusResolved:
		return st, nil
	case "mitigated":
		return StatusMonitoring, nil
	}
	return "", fmt.Errorf("%w: status %s: want investigating, identified, monitoring (or mitigated) or resolved", ErrInvalid, Quote(s))
}

// AlertStatus is Alertmanager's word for an alert's state.
type AlertStatus string

// Alertmanager's two alert states.
const (
	AlertFiring   AlertStatus = "firing"
	AlertResolved AlertStatus = "resolved"
)

// Alert is one Alertmanager alert as the incident last saw it.
type Alert struct {
	Fingerprint  string            `json:"fingerprint"`
	Status       AlertStatus       `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       *time.Time        `json:"ends_at"`
	GeneratorURL string            `json:"generator_url,omitempty"`
	// ResolvedByBot marks an alert the bot took as resolved because
	// Alertmanager held it no more while its group was silenced: a firing
	// copy of the same episode arriving later fires it again.
	ResolvedByBot bool `json:"resolved_by_bot,omitempty"`
}

// Name is the alert's alertname label, or "alert" when it has none.
func (a Alert) Name() string {
	if n := a.Labels["alertname"]; n != "" {
		return n
	}
	return "alert"
}

// ActionItem is a follow-up task for the postmortem.
type ActionItem struct {
	Text string    `json:"text"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
}

// Incident is one outage being worked, from detection to resolution.
type Incident struct {
	ID       int64    `json:"id"`
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	// SeverityByHand is set once someone chose the severity; alerts no
	// longer raise it after that.
	SeverityByHand bool   `json:"severity_by_hand,omitempty"`
	Status         Status `json:"status"`

	// Receiver and GroupKey name the Alertmanager group that opened the
	// incident; both are empty for incidents declared by hand.
	Receiver    string            `json:"receiver"`
	GroupKey    string            `json:"group_key"`
	GroupLabels map[string]string `json:"group_labels,omitempty"`
	// GroupLabelsCleaned is set when a group label arrived with characters
	// the inbound rule (CleanText) removed: GroupLabels no longer match
	// Alertmanager's values, so no silence is made from them.
	GroupLabelsCleaned bool   `json:"group_labels_cleaned,omitempty"`
	ExternalURL        string `json:"external_url,omitempty"`

	DeclaredBy string `json:"declared_by,omitempty"`

	CreatedAt      time.Time  `json:"created_at"`
	DetectedAt     time.Time  `json:"detected_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	AcknowledgedBy string     `json:"acknowledged_by"`
	Lead           string     `json:"lead"`
	MitigatedAt    *time.Time `json:"mitigated_at"`
	ResolvedAt     *time.Time `json:"resolved_at"`
	ResolvedBy     string     `json:"resolved_by,omitempty"`

	Impact      string       `json:"impact"`
	Cause       string       `json:"cause"`
	Resolution  string       `json:"resolution,omitempty"`
	ActionItems []ActionItem `json:"action_items"`
	// Draft is set once the postmortem draft was posted into the chat: its
	// refreshes follow the incident's changes (draft_refresh.go).
	Draft *DraftPost `json:"draft,omitempty"`
	// Alerts is the roster, in the order first seen. Stores keep it beside
	// the incident (see Tx); it is nil where a store was asked for the
	// header only.
	Alerts []Alert `json:"alerts"`
	// Roster sums up Alerts, kept in step by ingest, so that a notification
	// reads only the alerts it names.
	Roster Roster `json:"roster,omitzero"`
	// Teams lists the on-call teams whose match has fitted one of the
	// incident's alerts, kept by ingest under the team config TeamsOf
	// (OnCall.TeamIndex), so that filtering by team reads no alerts.
	Teams   []string `json:"teams,omitempty"`
	TeamsOf string   `json:"teams_of,omitempty"`
	// Filling is set while the first notification of a big group is
	// written in slices: the incident is hidden until it is clear
	// (fill.go).
	Filling bool `json:"filling,omitempty"`
	// TruncatedAlerts is how many alerts Alertmanager last left out of the
	// group's notification (max_alerts).
	TruncatedAlerts int `json:"truncated_alerts,omitempty"`
	// StepsDone records the runbook steps marked done, in order.
	StepsDone []StepDone `json:"steps_done,omitempty"`
	// Silences are the Alertmanager silences made for the incident
	// (silence.go), oldest first.
	Silences []Silence `json:"silences"`
	// Profiles are the heap profiles captured for the incident and
	// ProfileDiffs what grew between them (profile.go).
	Profiles     []ProfileCapture `json:"profiles,omitempty"`
	ProfileDiffs []ProfileDiff    `json:"profile_diffs,omitempty"`

	// Checklists are the runbooks posted as checklists into the
	// incident's room. Everything else a chat keeps (room and message IDs,
	// what it showed last) is its adapter's ChatRecord, beside the incident.
	Checklists []Checklist `json:"checklists,omitempty"`
}

// Key is the incident's display name, "INC-<n>".
func (inc *Incident) Key() string { return "INC-" + strconv.FormatInt(inc.ID, 10) }

// Open reports whether the incident is not resolved.
func (inc *Incident) Open() bool { return inc.Status != StatusResolved }

// Firing counts the incident's alerts that are firing.
func (inc *Incident) Firing() int {
	n := 0
	for _, a := range inc.Alerts {
		if a.Status == AlertFiring {
			n++
		}
	}
	return n
}

// Roster counts an incident's alerts.
type Roster struct {
	// Alerts is how many alerts the incident has seen, Firing how many of
	// them fire now.
	Alerts int `json:"alerts"`
	Firing int `json:"firing"`
	// LastEnd is the latest end of any of them.
	LastEnd time.Time `json:"last_end,omitzero"`
}

// RosterOf counts alerts, for incidents whose Roster was never kept (made
// by hand, or stored by an older version).
func RosterOf(alerts []Alert) Roster {
	var r Roster
	for i := range alerts {
		r.add(&alerts[i])
	}
	return r
}

// add counts a, newly joined or just changed.
func (r *Roster) add(a *Alert) {
	r.Alerts++
	if a.Status == AlertFiring {
		r.Firing++
	}
	if a.EndsAt != nil && a.EndsAt.After(r.LastEnd) {
		r.LastEnd = *a.EndsAt
	}
}

// change counts old becoming cur.
func (r *Roster) change(old, cur *Alert) {
	if old.Status == AlertFiring {
		r.Firing--
	}
	r.Alerts--
	r.add(cur)
}

// StepDone records who finished a runbook step, or marked it not
// applicable (Skipped), and when.
type StepDone struct {
	Runbook string    `json:"runbook"`
	N       int       `json:"n"`
	Text    string    `json:"text"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Skipped bool      `json:"skipped,omitempty"`
}

// Kind says what a timeline entry records.
type Kind string

// The kinds of timeline entries.
const (
	KindOpened             Kind = "opened"
	KindAlertFired         Kind = "alert_fired"
	KindAlertResolved      Kind = "alert_resolved"
	KindAlertsCleared      Kind = "alerts_cleared"
	KindAlertsTruncated    Kind = "alerts_truncated"
	KindChannelCreated     Kind = "channel_created"
	KindRespondersInvited  Kind = "responders_invited"
	KindAcknowledged       Kind = "acknowledged"
	KindSeverity           Kind = "severity"
	KindStatus             Kind = "status"
	KindLead               Kind = "lead"
	KindNote               Kind = "note"
	KindImpact             Kind = "impact"
	KindCause              Kind = "cause"
	KindActionItem         Kind = "action_item"
	KindRunbookPosted      Kind = "runbook_posted"
	KindRunbookStep        Kind = "runbook_step"
	KindPinned             Kind = "pinned"
	KindResolved           Kind = "resolved"
	KindReopened           Kind = "reopened"
	KindDeliveryFailed     Kind = "delivery_failed"
	KindPostmortemExported Kind = "postmortem_exported"
	// Alertmanager and Prometheus in the loop (silence.go).
	KindSilenced   Kind = "silenced"
	KindUnsilenced Kind = "unsilenced"
	KindProfile    Kind = "profile"
	// KindGraphFailed warns that Prometheus could not give the graph.
	KindGraphFailed Kind = "graph_failed"
	KindProfileDiff Kind = "profile_diff"
)

// TimelineEntry is one moment of an incident. Entries are never deleted:
// a correction (a new time, new text, struck) keeps the earlier version in
// History.
type TimelineEntry struct {
	ID         uint64    `json:"id"`
	IncidentID int64     `json:"incident_id"`
	At         time.Time `json:"at"`
	Kind       Kind      `json:"kind"`
	Actor      string    `json:"actor"`
	Text       string    `json:"text"`
	// RecordedAt is when the entry was written, which differs from At for
	// alerts (their own times) and for moments given with a leading time.
	RecordedAt time.Time `json:"recorded_at"`
	// Struck entries were struck out by someone: they stay on the
	// timeline, and leave the postmortem draft.
	Struck bool `json:"struck,omitempty"`
	// EditedAt is when the entry was last corrected; nil when never.
	EditedAt *time.Time `json:"edited_at,omitempty"`
	// History holds the earlier versions, oldest first.
	History []EntryVersion `json:"history,omitempty"`
	// BeforeDetection marks a moment before the incident was detected (the
	// deploy that started a leak), decided when the entry is recorded and
	// again when its time is corrected. Nil on entries recorded before the
	// mark was stored: Service.Timeline fills it in from the incident.
	BeforeDetection *bool `json:"before_detection,omitempty"`
}

// IsBeforeDetection reports the entry's stored mark, or, on an entry
// recorded before the mark was stored, works it out from inc (nil: not).
func (e TimelineEntry) IsBeforeDetection(inc *Incident) bool {
	if e.BeforeDetection != nil {
		return *e.BeforeDetection
	}
	return inc != nil && inc.BeforeDetection(e.At)
}

// markDetection stores on e whether it lies before inc's detection.
func (e *TimelineEntry) markDetection(inc *Incident) {
	b := inc.BeforeDetection(e.At)
	e.BeforeDetection = &b
}

// EntryVersion is an earlier version of a corrected timeline entry, and
// who replaced it, when.
type EntryVersion struct {
	At     time.Time `json:"at"`
	Text   string    `json:"text"`
	Struck bool      `json:"struck,omitempty"`
	// By and ReplacedAt say who corrected it, and when.
	By         string    `json:"by"`
	ReplacedAt time.Time `json:"replaced_at"`
}
