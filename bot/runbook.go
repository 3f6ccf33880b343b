package bot

// Runbook is a checklist for one kind of incident, posted into its channel.
type Runbook struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// Intro is the Markdown before the first step.
	Intro string        `json:"intro,omitempty"`
	Steps []RunbookStep `json:"steps"`
	// Vars fill the steps' $NAME placeholders from the incident's alerts
	// (FillVars), in the order the file declares them.
	Vars []RunbookVar `json:"vars,omitempty"`
	// Source names where the runbook came from (a file path or "builtin:<name>").
	Source string `json:"source,omitempty"`
	// Reason says why Match chose it for an incident: which alert, and
	// which matcher or runbook_url. Empty from Get.
	Reason string `json:"reason,omitempty"`
}

// RunbookStep is one numbered step of a runbook.
type RunbookStep struct {
	// N is the step's number, starting at 1.
	N int `json:"n"`
	// Text is the step's first paragraph as plain text, one line: what the
	// timeline and the postmortem draft call the step.
	Text string `json:"text"`
	// Markdown is the whole step as written (CommonMark with GitHub's
	// extensions), its first paragraph included, without the list marker:
	// the source every renderer (chat, web view, draft) starts from.
	Markdown string `json:"markdown,omitempty"`
	// Profile marks a profiling step (front matter profile_steps): the
	// checklist shows the bot's heap-profile captures on it, and the bot
	// ticks it once it has diffed two captures.
	Profile bool `json:"profile,omitempty"`
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
