package bot

import (
	"testing"
	"time"
)

// TestAlertDigest: equal content, equal digest (whatever the maps'
// order); any field merge compares changes it; values cannot be shifted
// from one field to the next without changing it.
func TestAlertDigest(t *testing.T) {
	base := func() Alert {
		a := resolved("a1", 0, 30)
		a.Annotations = map[string]string{"summary": "s"}
		a.GeneratorURL = "http://prom/g"
		return a
	}
	want := AlertDigest(new(base()))
	same := base()
	same.Labels = map[string]string{"instance": "a1", "service": "payment-gateway", "alertname": "MemoryLeak"}
	if got := AlertDigest(&same); got != want {
		t.Errorf("same content, labels built in another order: digest changed")
	}
	end := at(31)
	for name, change := range map[string]func(a *Alert){
		"fingerprint":     func(a *Alert) { a.Fingerprint = "a2" },
		"status":          func(a *Alert) { a.Status = AlertFiring },
		"start":           func(a *Alert) { a.StartsAt = a.StartsAt.Add(time.Nanosecond) },
		"end":             func(a *Alert) { a.EndsAt = &end },
		"no end":          func(a *Alert) { a.EndsAt = nil },
		"generator":       func(a *Alert) { a.GeneratorURL = "" },
		"label value":     func(a *Alert) { a.Labels["service"] = "other" },
		"label added":     func(a *Alert) { a.Labels["x"] = "" },
		"annotation":      func(a *Alert) { a.Annotations["summary"] = "t" },
		"label to annot.": func(a *Alert) { delete(a.Labels, "instance"); a.Annotations["instance"] = "a1" },
	} {
		a := base()
		change(&a)
		if AlertDigest(&a) == want {
			t.Errorf("%s changed: same digest", name)
		}
	}
	if want.IsZero() {
		t.Error("a digest is zero, which means none")
	}
}
