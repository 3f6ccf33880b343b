package bot

import (
	"fmt"
	"regexp"
	"time"
)

// Notification is one Alertmanager webhook delivery, decoded by an adapter
// into the domain's terms. A firing alert has a nil EndsAt.
type Notification struct {
	Receiver          string
	GroupKey          string
	Status            AlertStatus
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string
	// TruncatedAlerts is how many alerts max_alerts left out.
	TruncatedAlerts int
	Alerts          []Alert

	// groupLabelsCleaned is set by cleaned when a group label carried
	// characters CleanText removed.
	groupLabelsCleaned bool
}

// MaxClockSkew is how far in the future an alert's time may be before the
// notification is refused: Prometheus and Alertmanager clocks drift a
// little, but an alert that starts tomorrow is a broken sender.
const MaxClockSkew = 5 * time.Minute

var fingerprintRE = regexp.MustCompile(`^[0-9a-fA-F]{1,64}$`)

// Validate checks what the decoder cannot: the fields the rules rely on and
// times that make sense. now is the receiving clock. Errors wrap ErrInvalid
// and name the offending field.
func (n *Notification) Validate(now time.Time) error {
	if n.GroupKey == "" {
		return fmt.Errorf("%w: groupKey is empty", ErrInvalid)
	}
	if len(n.Alerts) == 0 {
		return fmt.Errorf("%w: alerts is empty", ErrInvalid)
	}
	switch n.Status {
	case AlertFiring, AlertResolved:
	default:
		return fmt.Errorf("%w: status %s: want firing or resolved", ErrInvalid, Quote(string(n.Status)))
	}
	if n.TruncatedAlerts < 0 {
		return fmt.Errorf("%w: truncatedAlerts is negative", ErrInvalid)
	}
	limit := now.Add(MaxClockSkew)
	seen := make(map[string]bool, len(n.Alerts))
	for i, a := range n.Alerts {
		if err := validateAlert(a, limit); err != nil {
			return fmt.Errorf("%w: alerts[%d].%w", ErrInvalid, i, err)
		}
		if seen[a.Fingerprint] {
			return fmt.Errorf("%w: alerts[%d].fingerprint %s appears twice", ErrInvalid, i, Quote(a.Fingerprint))
		}
		seen[a.Fingerprint] = true
	}
	return nil
}

func validateAlert(a Alert, limit time.Time) error {
	if !fingerprintRE.MatchString(a.Fingerprint) {
		return fmt.Errorf("fingerprint %s: want hex", Quote(a.Fingerprint))
	}
	if a.StartsAt.IsZero() {
		return fmt.Errorf("startsAt is missing")
	}
	if a.StartsAt.After(limit) {
		return fmt.Errorf("startsAt %s is in the future", a.StartsAt.UTC().Format(time.RFC3339))
	}
	switch a.Status {
	case AlertFiring:
	case AlertResolved:
		if a.EndsAt == nil {
			return fmt.Errorf("endsAt is missing for a resolved alert")
		}
		if a.EndsAt.Before(a.StartsAt) {
			return fmt.Errorf("endsAt is before startsAt")
		}
		if a.EndsAt.After(limit) {
			return fmt.Errorf("endsAt %s is in the future", a.EndsAt.UTC().Format(time.RFC3339))
		}
	default:
		return fmt.Errorf("status %s: want firing or resolved", Quote(string(a.Status)))
	}
	return nil
}
