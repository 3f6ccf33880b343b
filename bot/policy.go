package bot

import "strings"

// Policy holds the rules an operator configures: which alerts open
// incidents, how alert labels map to severity, and what happens when every
// alert of a group resolves.
type Policy struct {
	// SeverityLabel is the alert label read for severity; "" means "severity".
	SeverityLabel string
	// Severities maps lowercase label values to severities; nil means
	// DefaultSeverities.
	Severities map[string]Severity
	// Unknown is the severity of an alert whose label value is missing or
	// not in Severities; 0 means SEV3.
	Unknown Severity
	// Opens reports whether an alert with these labels may open an
	// incident; nil means every alert may. Alerts that may not still join
	// an incident their group already has open.
	Opens func(labels map[string]string) bool
	// KeepOpenWhenAlertsResolve leaves an incident open when every alert of
	// its group has resolved (the timeline still says so). By default the
	// incident resolves at the last alert's end.
	KeepOpenWhenAlertsResolve bool
}

// DefaultSeverities is the severity mapping of SPEC.md.
func DefaultSeverities() map[string]Severity {
	return map[string]Severity{
		"critical": SEV1, "page": SEV1,
		"error": SEV2, "major": SEV2, "high": SEV2,
		"warning": SEV3, "warn": SEV3, "minor": SEV3,
		"info": SEV4, "informational": SEV4, "low": SEV4,
	}
}

func (p Policy) withDefaults() Policy {
	if p.SeverityLabel == "" {
		p.SeverityLabel = "severity"
	}
	if p.Severities == nil {
		p.Severities = DefaultSeverities()
	}
	if !p.Unknown.Valid() {
		p.Unknown = SEV3
	}
	return p
}

// SeverityOf maps an alert's labels to a severity.
func (p Policy) SeverityOf(labels map[string]string) Severity {
	p = p.withDefaults()
	if s, ok := p.Severities[strings.ToLower(strings.TrimSpace(labels[p.SeverityLabel]))]; ok && s.Valid() {
		return s
	}
	return p.Unknown
}

func (p Policy) opens(labels map[string]string) bool {
	return p.Opens == nil || p.Opens(labels)
}
