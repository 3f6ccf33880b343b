package bot

// Runbook is a checklist for one kind of incident, posted into its channel.
type Runbook struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// Intro is the guidance before the first step.
	Intro string        `json:"intro,omitempty"`
	Steps []RunbookStep `json:"steps"`
	// Source names where the runbook came from (a file path or "builtin:<name>").
	Source string `json:"source,omitempty"`
}

// RunbookStep is one numbered step of a runbook.
type RunbookStep struct {
	// N is the step's number, starting at 1.
	N    int    `json:"n"`
	Text string `json:"text"`
	// Command, Link and Query are optional: a shell command to run, a URL to
	// open, a PromQL query to read.
	Command string `json:"command,omitempty"`
	Link    string `json:"link,omitempty"`
	Query   string `json:"query,omitempty"`
	// Guidance is free text that follows the step, before the next one.
	Guidance string `json:"guidance,omitempty"`
}

// Runbooks finds runbooks for an incident's alerts.
type Runbooks interface {
	// Match returns the runbooks whose matchers select any of the alerts, or
	// that an alert's runbook_url annotation names, in a stable order.
	Match(alerts []Alert) []Runbook
	// Get returns the runbook with this name and whether it exists.
	Get(name string) (Runbook, bool)
	// All returns every runbook, sorted by name.
	All() []Runbook
}
