package bot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
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
//
// Its cost follows the notification, not the incident's history: it reads
// the stored digests of the alerts the notification names in a read-only
// transaction, beside the store's single writer, and hands the writer only
// the alerts that changed. An exact repeat of the group's last notification
// is answered from that read alone.
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

// incoming is a validated notification with its alerts normalised as they
// are stored, and the digests ingest compares.
type incoming struct {
	n            *Notification
	alerts       []Alert
	fingerprints []string
	digests      []Digest
	digest       Digest
}

func (s *Service) prepare(n *Notification) *incoming {
	in := &incoming{n: n, alerts: make([]Alert, len(n.Alerts)), fingerprints: make([]string, len(n.Alerts)),
		digests: make([]Digest, len(n.Alerts))}
	var d digester
	for i := range n.Alerts {
		in.alerts[i] = cloneAlert(n.Alerts[i])
		in.fingerprints[i] = in.alerts[i].Fingerprint
		in.digests[i] = d.alertDigest(&in.alerts[i])
	}
	in.digest = notificationDigest(s.seed[:], n, in.digests)
	return in
}

// plan is what ingest read of the group before taking the writer.
type plan struct {
	found bool // the group has an incident
	group GroupState
	// latest is the group's latest incident's header; nil when none.
	latest *Incident
	// changed indexes the incoming alerts whose stored copy differs or is
	// missing; olds holds the stored copies that exist.
	changed []int
	olds    map[string]Alert
}

// read fills p from tx: the group, its latest incident's header, and the
// incoming alerts that differ from what the incident has.
func (p *plan) read(tx Tx, in *incoming) error {
	if err := p.readGroup(tx, in); err != nil {
		return err
	}
	return p.readAlerts(tx, in)
}

// readGroup reads the group and its latest incident's header: enough to
// tell an exact repeat.
func (p *plan) readGroup(tx Tx, in *incoming) error {
	*p = plan{}
	g, err := tx.Group(in.n.Receiver, in.n.GroupKey)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	default:
		p.found, p.group = true, g
		p.latest, err = tx.IncidentHeader(g.Incident)
		if errors.Is(err, ErrNotFound) {
			p.latest, err = nil, nil // deleted by retention: the group starts afresh
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readAlerts reads which incoming alerts differ from the stored ones, and
// the stored copies of those.
func (p *plan) readAlerts(tx Tx, in *incoming) error {
	if p.latest == nil {
		p.changed = make([]int, len(in.alerts))
		for i := range p.changed {
			p.changed[i] = i
		}
		return nil
	}
	if p.repeat(in) {
		return nil
	}
	stored, err := tx.AlertDigests(p.latest.ID, in.fingerprints)
	if err != nil {
		return err
	}
	var fps []string
	for i, d := range stored {
		if d != in.digests[i] {
			p.changed = append(p.changed, i)
			if !d.IsZero() {
				fps = append(fps, in.fingerprints[i])
			}
		}
	}
	if len(fps) > 0 {
		p.olds, err = tx.AlertsByFingerprint(p.latest.ID, fps)
	}
	return err
}

// repeat reports whether in is the notification last applied to the
// group's latest incident, which is as open (or not) as it was then:
// applying it again would change nothing.
func (p *plan) repeat(in *incoming) bool {
	return p.latest != nil && repeats(p.group, p.latest.Open(), in)
}

// repeats reports whether in is the notification last applied to the
// group g, whose latest incident is (open) or is not open, as it was then.
func repeats(g GroupState, open bool, in *incoming) bool {
	return g.Digest == in.digest && open == g.Open
}

// repeatResult is what applying a repeat would have answered.
func (p *plan) repeatResult() IngestResult { return repeatResult(p.latest.ID, p.latest.Open()) }

func repeatResult(incident int64, open bool) IngestResult {
	if open {
		return IngestResult{Incident: incident}
	}
	return IngestResult{Incident: incident, Ignored: "duplicate"}
}

// current reports whether the group is as p read it: no notification was
// applied and no incident opened for it since.
func (p *plan) current(tx Tx, n *Notification) (bool, error) {
	g, err := tx.Group(n.Receiver, n.GroupKey)
	if errors.Is(err, ErrNotFound) {
		return !p.found, nil
	}
	if err != nil {
		return false, err
	}
	return p.found && g.Incident == p.group.Incident && g.Rev == p.group.Rev, nil
}

func (s *Service) ingest(ctx context.Context, n *Notification) (IngestResult, error) {
	now := s.Now()
	if err := n.Validate(now); err != nil {
		return IngestResult{}, err
	}
	n, err := n.cleaned()
	if err != nil {
		return IngestResult{}, err
	}
	in := s.prepare(n)
	if s.peeker != nil {
		// One read, no transaction: enough to answer a repeat.
		g, stored, open, err := s.peeker.PeekGroup(ctx, n.Receiver, n.GroupKey)
		switch {
		case errors.Is(err, ErrNotFound):
			return s.commit(ctx, in, nil, now) // a new group: nothing to read ahead
		case err != nil:
			return IngestResult{}, err
		case stored && repeats(g, open, in):
			return repeatResult(g.Incident, open), nil
		}
		// A database store's writer runs its batch's Updates one after
		// the other, each read a round trip: the reads are done here, in
		// parallel with other webhooks', and the writer checks that they
		// are still current.
		read := new(plan)
		if err := s.ingestStore.View(ctx, func(tx Tx) error { return read.read(tx, in) }); err != nil {
			return IngestResult{}, err
		}
		return s.commit(ctx, in, read, now)
	}
	read := new(plan)
	if err := s.ingestStore.View(ctx, func(tx Tx) error {
		if len(in.alerts) <= readAhead {
			return read.readGroup(tx, in) // enough to answer a repeat
		}
		return read.read(tx, in)
	}); err != nil {
		return IngestResult{}, err
	}
	if read.repeat(in) {
		return read.repeatResult(), nil
	}
	if len(in.alerts) <= readAhead {
		return s.commit(ctx, in, nil, now)
	}
	return s.commit(ctx, in, read, now)
}

// readAhead is the size of notification above which ingest reads the
// stored alerts in a View before taking the writer. Below it the View
// reads only the group (two lookups: enough to answer an exact repeat,
// most of Alertmanager's traffic, without the writer), and the writer
// reads the alerts: they cost less than keeping a snapshot open longer,
// which keeps freed pages from being reused.
const readAhead = 256

// commit applies in with the writer, using what read saw when it is still
// current; a nil read is done by the writer.
func (s *Service) commit(ctx context.Context, in *incoming, read *plan, now time.Time) (IngestResult, error) {
	var res IngestResult
	var fm fillMarker
	err := s.ingestStore.Update(ctx, func(tx Tx) error {
		res, fm = IngestResult{}, fillMarker{}
		p := read
		ok := false
		if p != nil {
			var err error
			if ok, err = p.current(tx, in.n); err != nil {
				return err
			}
		}
		if !ok { // not read yet, or another notification of the group got in first
			p = new(plan)
			if err := p.read(tx, in); err != nil {
				return err
			}
			if p.repeat(in) {
				res = p.repeatResult()
				return nil
			}
		}
		return s.apply(tx, in, p, now, &res, &fm)
	})
	if err != nil || fm.id == 0 {
		return res, err
	}
	return s.fill(ctx, in, fm, now) // fill.go
}

// apply applies in to the group, inside the writer. The header is read
// again here, as people may have changed it since the plan was read; the
// alerts cannot have changed, as p.current said.
func (s *Service) apply(tx Tx, in *incoming, p *plan, now time.Time, res *IngestResult, fm *fillMarker) error {
	var latest *Incident
	if p.latest != nil {
		var err error
		if latest, err = tx.IncidentHeader(p.latest.ID); err != nil {
			return err
		}
	}
	switch {
	case latest != nil && latest.Filling: // fill.go
		fm.id = latest.ID
		return nil
	case (latest == nil || !latest.Open()) && len(in.alerts) > fillSlice && newlyFiring(latest != nil, in, p, s.policy):
		var err error
		fm.id, fm.entries, err = s.startFill(tx, in, now)
		return err
	}
	var err error
	if latest != nil && latest.Open() {
		err = s.ingestInto(tx, latest, in, p, res)
	} else {
		latest, err = s.ingestClosed(tx, latest, in, p, now, res)
	}
	if err != nil || latest == nil {
		return err
	}
	return tx.SetGroupDigest(in.n.Receiver, in.n.GroupKey, in.digest, latest.Open())
}

// ingestInto applies in to the group's open incident.
func (s *Service) ingestInto(tx Tx, inc *Incident, in *incoming, p *plan, res *IngestResult) error {
	res.Incident = inc.ID
	wasFiring := inc.Roster.Firing
	m := merge(&inc.Roster, in, p.changed, p.olds)
	entries := m.entries
	entries = append(entries, s.raiseSeverity(inc, m.alerts, entries)...)
	entries = append(entries, noteTruncation(inc, in.n)...)
	if len(entries) > 0 && wasFiring > 0 && inc.Roster.Firing == 0 {
		entries = append(entries, s.cleared(inc)...)
	}
	detailsChanged := changedDetails(inc, in.n)
	detailsChanged = s.noteTeams(inc, m.alerts, false) || detailsChanged
	if err := m.put(tx, inc.ID); err != nil {
		return err
	}
	if len(entries) == 0 {
		if detailsChanged {
			return tx.UpdateIncident(inc)
		}
		return nil // a repeat: only the group's digest is written
	}
	started, err := s.escalateJoined(tx, inc, m.alerts, s.Now()) // on-call: escalate.go
	if err != nil {
		return err
	}
	entries = append(entries, started...)
	res.Changes = len(entries)
	if err := tx.UpdateIncident(inc); err != nil {
		return err
	}
	return s.record(tx, inc, false, entries)
}

// ingestClosed handles a group whose latest incident (if any) is resolved:
// resolved alerts still update that incident's roster, and an alert that is
// newly firing opens a new incident, which it returns.
func (s *Service) ingestClosed(tx Tx, latest *Incident, in *incoming, p *plan, now time.Time, res *IngestResult) (*Incident, error) {
	if !newlyFiring(latest != nil, in, p, s.policy) {
		res.Ignored = "no new firing alert may open an incident"
		if latest == nil {
			return nil, nil
		}
		res.Incident = latest.ID
		var resolved []int
		for _, i := range p.changed {
			if _, ok := p.olds[in.fingerprints[i]]; ok && in.alerts[i].Status == AlertResolved {
				resolved = append(resolved, i)
			}
		}
		m := merge(&latest.Roster, in, resolved, p.olds)
		if err := m.put(tx, latest.ID); err != nil {
			return nil, err
		}
		if len(m.entries) == 0 {
			res.Ignored = "duplicate"
			return latest, nil
		}
		res.Changes = len(m.entries)
		if err := tx.UpdateIncident(latest); err != nil {
			return nil, err
		}
		return latest, s.record(tx, latest, false, m.entries)
	}
	inc := s.newFromNotification(in.n, now)
	all := make([]int, len(in.alerts))
	for i := range all {
		all[i] = i
	}
	m := merge(&inc.Roster, in, all, nil)
	s.noteTeams(inc, m.alerts, true)
	truncated := noteTruncation(inc, in.n)
	if err := tx.CreateIncident(inc); err != nil {
		return nil, err
	}
	if err := m.put(tx, inc.ID); err != nil {
		return nil, err
	}
	inc.Alerts = m.alerts // stored beside it; what record's hooks (on-call teams) look at
	opened := entry(KindOpened, inc.DetectedAt, ActorAlertmanager, "%s opened: %s (%s)", inc.Key(), inc.Title, inc.Severity)
	entries := append([]*TimelineEntry{opened}, m.entries...)
	entries = append(entries, truncated...)
	res.Incident, res.Opened, res.Changes = inc.ID, true, len(entries)
	return inc, s.record(tx, inc, true, entries)
}

func (s *Service) newFromNotification(n *Notification, now time.Time) *Incident {
	inc := &Incident{
		Title:       titleOf(n),
		Status:      StatusInvestigating,
		Receiver:    n.Receiver,
		GroupKey:    n.GroupKey,
		GroupLabels: maps.Clone(n.GroupLabels),
		// A silence matches label values as Alertmanager holds them.
		GroupLabelsCleaned: n.groupLabelsCleaned,
		ExternalURL:        n.ExternalURL,
		CreatedAt:          now,
		Severity:           SEV4 + 1,
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

// newlyFiring reports whether in carries a firing alert that may open an
// incident and that the group's latest incident (if it has one) has not
// already seen firing with the same start (a repeat after a manual resolve
// is not new; after the bot took the alert for resolved, it is). Only changed alerts can be: the others are stored as they
// come.
func newlyFiring(hasLatest bool, in *incoming, p *plan, pol Policy) bool {
	for _, i := range p.changed {
		a := &in.alerts[i]
		if a.Status != AlertFiring || !pol.opens(a.Labels) {
			continue
		}
		if !hasLatest {
			return true
		}
		old, ok := p.olds[a.Fingerprint]
		if !ok || old.StartsAt.Before(a.StartsAt) || (old.Status == AlertResolved && old.ResolvedByBot && old.StartsAt.Equal(a.StartsAt)) {
			return true
		}
	}
	return false
}

// merged is what merging alerts into a roster changed: the alerts to store
// (with their digests) and the timeline entries.
type merged struct {
	alerts  []Alert
	digests []Digest
	entries []*TimelineEntry
}

func (m *merged) keep(a Alert, d Digest) {
	m.alerts = append(m.alerts, a)
	m.digests = append(m.digests, d)
}

func (m *merged) put(tx Tx, incidentID int64) error {
	if len(m.alerts) == 0 {
		return nil
	}
	return tx.PutAlerts(incidentID, m.alerts, m.digests)
}

// merge applies the incoming alerts at indexes which to a roster whose
// stored copies of them are olds (missing ones are new), keeping r in
// step, and returns what changed, with an entry for each real change,
// dated with the alert's own times. Stale and repeated deliveries add no
// entry. It changes neither in nor olds: an Update may run it twice.
func merge(r *Roster, in *incoming, which []int, olds map[string]Alert) merged {
	var m merged
	for _, i := range which {
		a, d := in.alerts[i], in.digests[i]
		old, ok := olds[a.Fingerprint]
		switch {
		case !ok:
			r.add(&a)
			m.keep(a, d)
			m.entries = append(m.entries, alertEntries(a, "")...)
		case a.StartsAt.Before(old.StartsAt):
			// An older episode arriving late (an HA peer, a retry): ignore.
		case a.StartsAt.After(old.StartsAt):
			r.change(&old, &a)
			m.keep(a, d)
			m.entries = append(m.entries, alertEntries(a, " again")...)
		case old.Status == AlertFiring && a.Status == AlertResolved:
			r.change(&old, &a)
			m.keep(a, d)
			m.entries = append(m.entries, alertEntries(a, "")[1:]...)
		case old.Status == AlertResolved && old.ResolvedByBot && a.Status == AlertFiring:
			// The bot took it for resolved (a silenced group Alertmanager
			// held no alert of): it fires after all.
			r.change(&old, &a)
			m.keep(a, d)
			m.entries = append(m.entries, alertEntries(a, " again")...)
		default:
			// Same episode: a late firing copy of a resolved alert, or new
			// labels or annotations. Keep the latest labels and annotations
			// quietly.
			if maps.Equal(old.Labels, a.Labels) && maps.Equal(old.Annotations, a.Annotations) {
				continue
			}
			old.Annotations, old.Labels = a.Annotations, a.Labels
			m.keep(old, AlertDigest(&old))
		}
	}
	return m
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
	return slices.Contains(list, s)
}

// raiseSeverity makes the incident as severe as the worst firing alert
// among those that just changed, unless someone set the severity by hand.
// Alerts that did not change raised it already when they did.
func (s *Service) raiseSeverity(inc *Incident, changed []Alert, entries []*TimelineEntry) []*TimelineEntry {
	if inc.SeverityByHand || len(entries) == 0 {
		return nil
	}
	worst, by := inc.Severity, Alert{}
	for _, a := range changed {
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
	last := inc.Roster.LastEnd
	if last.Before(inc.DetectedAt) {
		last = inc.DetectedAt
	}
	out := []*TimelineEntry{entry(KindAlertsCleared, last, ActorAlertmanager, "all %d alerts of the group resolved", inc.Roster.Alerts)}
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
