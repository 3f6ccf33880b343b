// Package loadgen drives incidentbot's Alertmanager webhook with realistic
// notifications, open loop at a fixed rate or closed loop at full speed,
// and measures what comes back. cmd/loadgen is its command line; the soak
// and crash tests of cmd/incidentbot use it too.
package loadgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// Alert is one alert of a group, as Alertmanager sends it.
type Alert struct {
	// N numbers the alert within its group; it picks the instance and
	// the fingerprint.
	N        int
	Firing   bool
	StartsAt time.Time
	// EndsAt is when a resolved alert ended.
	EndsAt time.Time
}

// alertnames are the alert names groups are made of, one per group in
// turn. Two of them match a built-in runbook, as in real life some do.
var alertnames = []string{"HighRequestLatency", "DiskWillFillIn4Hours", "KubePodCrashLooping", "HighErrorRate",
	"TargetDown", "CPUThrottlingHigh", "NodeMemoryPressure", "CertificateExpiresSoon"}

// Group is one Alertmanager alert group: the route's group labels make
// its key, and each notification carries all its current alerts.
type Group struct {
	ID     int
	Alerts []Alert
}

// Alertname is the group's alertname label.
func (g *Group) Alertname() string { return alertnames[g.ID%len(alertnames)] }

// Service is the group's service label.
func (g *Group) Service() string { return fmt.Sprintf("svc-%06d", g.ID) }

// Key is the group's groupKey, as Alertmanager forms it from the route
// and the group labels.
func (g *Group) Key() string {
	return `{}/{team="ops"}:{alertname="` + g.Alertname() + `", service="` + g.Service() + `"}`
}

// Receiver is the receiver's name; Alertmanager sends it regex-escaped.
const Receiver = "team.ops"

// Fingerprint is the fingerprint of alert n of group id: 16 hex digits,
// distinct for every (group, n).
func Fingerprint(id, n int) string {
	x := uint64(id)<<20 | uint64(n)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return fmt.Sprintf("%016x", x)
}

// Summary is the summary annotation of alert n of group g, which names
// the alert's instance, so that the timeline entry of each alert is
// different.
func Summary(g *Group, n int) string {
	return g.Alertname() + " on " + g.Service() + " (api-" + strconv.Itoa(n) + ")"
}

// AppendBody appends the group's notification, as Alertmanager's webhook
// (payload version 4) encodes it, keys in its order: about 600 bytes an
// alert.
func AppendBody(b []byte, g *Group) []byte {
	firing := false
	for _, a := range g.Alerts {
		firing = firing || a.Firing
	}
	status := "resolved"
	if firing {
		status = "firing"
	}
	name, svc := g.Alertname(), g.Service()
	b = append(b, `{"receiver":"team\\.ops","status":"`...)
	b = append(b, status...)
	b = append(b, `","alerts":[`...)
	for i, a := range g.Alerts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAlert(b, g, name, svc, a)
	}
	b = append(b, `],"groupLabels":{"alertname":"`...)
	b = append(b, name...)
	b = append(b, `","service":"`...)
	b = append(b, svc...)
	b = append(b, `"},"commonLabels":{"alertname":"`...)
	b = append(b, name...)
	b = append(b, `","cluster":"prod-eu-1","job":"api","namespace":"checkout","service":"`...)
	b = append(b, svc...)
	b = append(b, `","severity":"critical","team":"ops"},"commonAnnotations":{"runbook_url":"https://runbooks.example.com/`...)
	b = append(b, name...)
	b = append(b, `"},"externalURL":"http://alertmanager-0.monitoring.svc:9093","version":"4","groupKey":`...)
	b = strconv.AppendQuote(b, g.Key())
	b = append(b, `,"truncatedAlerts":0}`...)
	return b
}

func appendAlert(b []byte, g *Group, name, svc string, a Alert) []byte {
	status := "resolved"
	if a.Firing {
		status = "firing"
	}
	host := "api-" + strconv.Itoa(a.N) + ".prod.internal"
	b = append(b, `{"status":"`...)
	b = append(b, status...)
	b = append(b, `","labels":{"alertname":"`...)
	b = append(b, name...)
	b = append(b, `","cluster":"prod-eu-1","instance":"`...)
	b = append(b, host...)
	b = append(b, `:9100","job":"api","namespace":"checkout","service":"`...)
	b = append(b, svc...)
	b = append(b, `","severity":"critical","team":"ops"},"annotations":{"description":"p99 latency of `...)
	b = append(b, svc...)
	b = append(b, ` on `...)
	b = append(b, host...)
	b = append(b, ` is 2.3s (objective 500ms).","runbook_url":"https://runbooks.example.com/`...)
	b = append(b, name...)
	b = append(b, `","summary":"`...)
	b = append(b, Summary(g, a.N)...)
	b = append(b, `"},"startsAt":"`...)
	b = a.StartsAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","endsAt":"`...)
	if a.Firing || a.EndsAt.IsZero() {
		b = append(b, "0001-01-01T00:00:00Z"...)
	} else {
		b = a.EndsAt.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, `","generatorURL":"http://prometheus-0:9090/graph?g0.expr=job%3Ahttp_latency_seconds%3Ap99+%3E+0.5&g0.tab=1","fingerprint":"`...)
	b = append(b, Fingerprint(g.ID, a.N)...)
	b = append(b, `"}`...)
	return b
}

// Kind says what a notification of the mix is.
type Kind int

// The kinds of notification in a Mix.
const (
	// Repeat resends a group unchanged (repeat_interval, an HA peer, a retry).
	Repeat Kind = iota
	// Update changes one alert of an existing group: it resolves, or
	// fires again.
	Update
	// New is the first notification of a new group.
	New
	// Resolve resolves every alert of a group: its last notification,
	// after which the group leaves the mix.
	Resolve
)

func (k Kind) String() string { return [...]string{"repeat", "update", "new", "resolve"}[k] }

// Mix makes the notifications of a run: mostly repeats and updates of the
// groups that are open, new groups at NewRatio and, at ResolveRatio, the
// resolution of the oldest open group. It is safe for concurrent use.
type Mix struct {
	// NewRatio is the share of notifications that start a new group.
	NewRatio float64
	// ResolveRatio is the share of notifications that resolve the oldest
	// open group (all its alerts at once), which then gets no more
	// notifications, as Alertmanager forgets a resolved group. The last
	// open group is never resolved. Equal to NewRatio, it keeps the number
	// of open groups about where priming left it.
	ResolveRatio float64
	// UpdateRatio is the share of the others that change one alert.
	UpdateRatio float64
	// Alerts is how many alerts each group has; default 5.
	Alerts int
	// Now is the clock for startsAt and endsAt; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
	// groups are the open groups, oldest first; made counts every group
	// made, open or resolved.
	groups []*Group
	made   int
	// stamp keeps times strictly increasing, so that an update is never
	// mistaken for a late copy of the past.
	stamp time.Time
}

// Prime adds n groups with all their alerts firing and returns their
// first notifications, to send before the measurement so that the run's
// repeats and updates find incidents to go to.
func (m *Mix) Prime(n int) [][]byte {
	out := make([][]byte, 0, n)
	m.mu.Lock()
	defer m.mu.Unlock()
	for range n {
		out = append(out, AppendBody(nil, m.newGroup()))
	}
	return out
}

// Groups returns how many groups the mix has made.
func (m *Mix) Groups() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.made
}

// Open returns how many of them are still open.
func (m *Mix) Open() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.groups)
}

// Next appends the next notification of the mix to b.
func (m *Mix) Next(b []byte) ([]byte, Kind) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := rand.Float64()
	if len(m.groups) == 0 || r < m.NewRatio {
		return AppendBody(b, m.newGroup()), New
	}
	if r < m.NewRatio+m.ResolveRatio && len(m.groups) > 1 {
		g := m.groups[0]
		m.groups = m.groups[1:]
		now := m.now()
		for i := range g.Alerts {
			if a := &g.Alerts[i]; a.Firing {
				a.Firing, a.EndsAt = false, now
			}
		}
		return AppendBody(b, g), Resolve
	}
	g := m.groups[rand.IntN(len(m.groups))]
	if rand.Float64() >= m.UpdateRatio {
		return AppendBody(b, g), Repeat
	}
	a := &g.Alerts[rand.IntN(len(g.Alerts))]
	now := m.now()
	if a.Firing {
		a.Firing, a.EndsAt = false, now
	} else {
		a.Firing, a.StartsAt, a.EndsAt = true, now, time.Time{}
	}
	return AppendBody(b, g), Update
}

func (m *Mix) newGroup() *Group {
	n := m.Alerts
	if n <= 0 {
		n = 5
	}
	m.made++
	g := &Group{ID: m.made, Alerts: make([]Alert, n)}
	now := m.now()
	for i := range g.Alerts {
		g.Alerts[i] = Alert{N: i, Firing: true, StartsAt: now}
	}
	m.groups = append(m.groups, g)
	return g
}

// now returns the clock's time, a microsecond past the last one at least.
func (m *Mix) now() time.Time {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	t := now().UTC().Truncate(time.Microsecond)
	if !t.After(m.stamp) {
		t = m.stamp.Add(time.Microsecond)
	}
	m.stamp = t
	return t
}
