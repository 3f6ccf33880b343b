package bot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"
)

// ActorAlertmanager is the actor of the entries alerts cause.
const ActorAlertmanager = "alertmanager"

// IngestResult says what a notification did.
type IngestResult struct {
	// Incident is the incident the notification went to; 0 when ignored.
	Incident int64 `json:"incident,omitempty"`
	// Opened is true when the notification opened that incident.
	Opened bool `json:"opened"`
	// Changes counts the timeline entries it added; 0 for a duplicate.
	Changes int `json:"changes"`
	// Ignored says why nothing was opened, when nothing was.
	Ignored string `json:"ignored,omitempty"`
}

// Ingest applies one Alertmanager notification: it opens an incident for a
// group that has none open, or updates the group's incident. The same
// notification delivered twice changes nothing the second time. It returns
// once the result is durably stored.
func (s *Service) Ingest(ctx context.Context, n *Notification) (IngestResult, error) {
	res, err := s.ingest(ctx, n)
	if s.onIngest != nil {
		s.onIngest(n, res, err)
	}
	switch {
	case err != nil:
	case res.Opened:
		s.logFor(ctx, res.Incident).Info("incident opened", "receiver", n.Receiver, "alerts", len(n.Alerts))
	case res.Changes > 0:
		s.logFor(ctx, res.Incident).Debug("incident updated by alerts", "changes", res.Changes)
	}
	return res, err
}

func (s *Service) ingest(ctx context.Context, n *Notification) (IngestResult, error) {
	now := s.Now()
	if err := n.Validate(now); err != nil {
		return IngestResult{}, err
	}
	var res IngestResult
	err := s.store.Update(ctx, func(tx Tx) error {
		res = IngestResult{}
		latest, err := tx.LatestInGroup(n.Receiver, n.GroupKey)
		switch {
		case errors.Is(err, ErrNotFound):
			latest = nil
		case err != nil:
			return err
		}
		if latest != nil && latest.Open() {
			return s.ingestInto(tx, latest, n, &res)
		}
		return s.ingestClosed(tx, latest, n, now, &res)
	})
	return res, err
}

// ingestInto applies n to the group's open incident.
func (s *Service) ingestInto(tx Tx, inc *Incident, n *Notification, res *IngestResult) error {
	res.Incident = inc.ID
	wasFiring := inc.Firing()
	entries := mergeAlerts(inc, n.Alerts)
	entries = append(entries, s.raiseSeverity(inc, entries)...)
	entries = append(entries, noteTruncation(inc, n)...)
	if len(entries) > 0 && wasFiring > 0 && inc.Firing() == 0 {
		entries = append(entries, s.cleared(inc)...)
	}
	detailsChanged := changedDetails(inc, n)
	if len(entries) == 0 {
		if detailsChanged {
			return tx.UpdateIncident(inc)
		}
		return nil // a repeat: nothing to write, so the store skips the commit
	}
	res.Changes = len(entries)
	if err := tx.UpdateIncident(inc); err != nil {
		return err
	}
	return s.record(tx, inc, false, entries)
}

// ingestClosed handles a group whose latest incident (if any) is resolved:
// resolved alerts still update that incident's roster, and an alert that is
// newly firing opens a new incident.
func (s *Service) ingestClosed(tx Tx, latest *Incident, n *Notification, now time.Time, res *IngestResult) error {
	if !newlyFiring(latest, n.Alerts, s.policy) {
		res.Ignored = "no new firing alert may open an incident"
		if latest == nil {
			return nil
		}
		res.Incident = latest.ID
		entries := mergeResolvedOnly(latest, n.Alerts)
		if len(entries) == 0 {
			res.Ignored = "duplicate"
			return nil
		}
		res.Changes = len(entries)
		if err := tx.UpdateIncident(latest); err != nil {
			return err
		}
		return s.record(tx, latest, false, entries)
	}
	inc := s.newFromNotification(n, now)
	if err := tx.CreateIncident(inc); err != nil {
		return err
	}
	opened := entry(KindOpened, inc.DetectedAt, ActorAlertmanager, "%s opened: %s (%s)", inc.Key(), inc.Title, inc.Severity)
	entries := append([]*TimelineEntry{opened}, mergeAlerts(inc, n.Alerts)...)
	entries = append(entries, noteTruncation(inc, n)...)
	res.Incident, res.Opened, res.Changes = inc.ID, true, len(entries)
	if err := tx.UpdateIncident(inc); err != nil {
		return err
	}
	return s.record(tx, inc, true, entries)
}

func (s *Service) newFromNotification(n *Notification, now time.Time) *Incident {
	inc := &Incident{
		Title:       titleOf(n),
		Status:      StatusInvestigating,
		Receiver:    n.Receiver,
		GroupKey:    n.GroupKey,
		GroupLabels: maps.Clone(n.GroupLabels),
		ExternalURL: n.ExternalURL,
		CreatedAt:   now,
		Severity:    SEV4 + 1,
	}
	for _, a := range n.Alerts {
		if a.Status != AlertFiring {
			continue
		}
		if inc.DetectedAt.IsZero() || a.StartsAt.Before(inc.DetectedAt) {
			inc.DetectedAt = a.StartsAt.UTC()
		}
		if sev := s.policy.SeverityOf(a.Labels); sev < inc.Severity {
			inc.Severity = sev
		}
	}
	return inc
}

// newlyFiring reports whether n carries a firing alert that may open an
// incident and that the group's latest incident has not already seen
// firing with the same start (a repeat after a manual resolve is not new).
func newlyFiring(latest *Incident, alerts []Alert, p Policy) bool {
	for _, a := range alerts {
		if a.Status != AlertFiring || !p.opens(a.Labels) {
			continue
		}
		if latest == nil {
			return true
		}
		i := latest.alert(a.Fingerprint)
		if i < 0 || latest.Alerts[i].StartsAt.Before(a.StartsAt) {
			return true
		}
	}
	return false
}

// mergeAlerts applies incoming alerts to inc's roster and returns an entry
// for each real change, dated with the alert's own times. Stale and repeated
// deliveries change nothing.
func mergeAlerts(inc *Incident, alerts []Alert) []*TimelineEntry {
	var entries []*TimelineEntry
	for _, a := range alerts {
		a = cloneAlert(a)
		i := inc.alert(a.Fingerprint)
		if i < 0 {
			inc.Alerts = append(inc.Alerts, a)
			entries = append(entries, alertEntries(a, "")...)
			continue
		}
		old := &inc.Alerts[i]
		switch {
		case a.StartsAt.Before(old.StartsAt):
			// An older episode arriving late (an HA peer, a retry): ignore.
		case a.StartsAt.After(old.StartsAt):
			*old = a
			entries = append(entries, alertEntries(a, " again")...)
		case old.Status == AlertFiring && a.Status == AlertResolved:
			*old = a
			entries = append(entries, alertEntries(a, "")[1:]...)
		default:
			// Same episode: a repeat, or a late firing copy of a resolved
			// alert. Keep the latest labels and annotations quietly.
			old.Annotations, old.Labels = a.Annotations, a.Labels
		}
	}
	return entries
}

// mergeResolvedOnly applies only alert resolutions, for a resolved incident.
func mergeResolvedOnly(inc *Incident, alerts []Alert) []*TimelineEntry {
	var resolved []Alert
	for _, a := range alerts {
		if a.Status == AlertResolved && inc.alert(a.Fingerprint) >= 0 {
			resolved = append(resolved, a)
		}
	}
	return mergeAlerts(inc, resolved)
}

// alertEntries returns the fired entry and, for a resolved alert, the
// resolved entry.
func alertEntries(a Alert, again string) []*TimelineEntry {
	desc := describeAlert(a)
	out := []*TimelineEntry{entry(KindAlertFired, a.StartsAt, ActorAlertmanager, "%s fired%s: %s", a.Name(), again, desc)}
	if a.Status == AlertResolved && a.EndsAt != nil {
		out = append(out, entry(KindAlertResolved, *a.EndsAt, ActorAlertmanager, "%s resolved: %s", a.Name(), desc))
	}
	return out
}

// describeAlert is the alert's summary annotation, or its identifying labels.
func describeAlert(a Alert) string {
	if s := strings.TrimSpace(a.Annotations["summary"]); s != "" {
		return s
	}
	return LabelString(a.Labels, "alertname")
}

// LabelString renders labels as {k="v", ...} in key order, without those
// named in skip.
func LabelString(labels map[string]string, skip ...string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if !contains(skip, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// raiseSeverity makes the incident as severe as its worst firing alert,
// unless someone set the severity by hand.
func (s *Service) raiseSeverity(inc *Incident, changes []*TimelineEntry) []*TimelineEntry {
	if inc.SeverityByHand || len(changes) == 0 {
		return nil
	}
	worst, by := inc.Severity, Alert{}
	for _, a := range inc.Alerts {
		if sev := s.policy.SeverityOf(a.Labels); a.Status == AlertFiring && sev < worst {
			worst, by = sev, a
		}
	}
	if worst == inc.Severity {
		return nil
	}
	inc.Severity = worst
	return []*TimelineEntry{entry(KindSeverity, by.StartsAt, ActorAlertmanager, "severity raised to %s by %s", worst, by.Name())}
}

// noteTruncation records a change in how many alerts max_alerts left out.
func noteTruncation(inc *Incident, n *Notification) []*TimelineEntry {
	if n.TruncatedAlerts == inc.TruncatedAlerts {
		return nil
	}
	inc.TruncatedAlerts = n.TruncatedAlerts
	if n.TruncatedAlerts == 0 {
		return nil
	}
	at := inc.DetectedAt
	for _, a := range n.Alerts {
		if a.StartsAt.After(at) {
			at = a.StartsAt
		}
	}
	return []*TimelineEntry{entry(KindAlertsTruncated, at, ActorAlertmanager,
		"Alertmanager left %d alerts of this group out of its notification (max_alerts); the roster here is incomplete", n.TruncatedAlerts)}
}

// cleared records that every alert of the group resolved and, unless the
// policy keeps it open, resolves the incident at the last alert's end.
func (s *Service) cleared(inc *Incident) []*TimelineEntry {
	var last time.Time
	for _, a := range inc.Alerts {
		if a.EndsAt != nil && a.EndsAt.After(last) {
			last = *a.EndsAt
		}
	}
	if last.Before(inc.DetectedAt) {
		last = inc.DetectedAt
	}
	out := []*TimelineEntry{entry(KindAlertsCleared, last, ActorAlertmanager, "all %d alerts of the group resolved", len(inc.Alerts))}
	if s.policy.KeepOpenWhenAlertsResolve {
		return out
	}
	resolve(inc, last, ActorAlertmanager, "")
	return append(out, entry(KindResolved, last, ActorAlertmanager, "%s resolved: every alert of the group resolved", inc.Key()))
}

// changedDetails refreshes group details that change without a timeline
// entry (Alertmanager's external URL) and reports whether any did.
func changedDetails(inc *Incident, n *Notification) bool {
	if n.ExternalURL == "" || n.ExternalURL == inc.ExternalURL {
		return false
	}
	inc.ExternalURL = n.ExternalURL
	return true
}

func cloneAlert(a Alert) Alert {
	a.Labels = maps.Clone(a.Labels)
	a.Annotations = maps.Clone(a.Annotations)
	a.StartsAt = a.StartsAt.UTC()
	if a.EndsAt != nil {
		e := a.EndsAt.UTC()
		a.EndsAt = &e
	}
	if a.Status == AlertFiring {
		a.EndsAt = nil
	}
	return a
}

// titleOf names an incident after its alerts: the alert name and the
// service (or job, namespace, instance) they share.
func titleOf(n *Notification) string {
	name := n.CommonLabels["alertname"]
	if name == "" {
		name = n.GroupLabels["alertname"]
	}
	if name == "" && len(n.Alerts) > 0 {
		name = n.Alerts[0].Name()
	}
	for _, k := range []string{"service", "app", "job", "namespace", "cluster", "instance"} {
		if v := n.CommonLabels[k]; v != "" {
			return fmt.Sprintf("%s on %s", name, v)
		}
	}
	return name
}
