package bot

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Command is a parsed `/incident` line.
type Command struct {
	Verb string
	// When is the optional leading time of the verbs that record a moment.
	When     string
	Text     string
	Severity Severity
	Status   Status
	// For is the duration of a silence; zero means the default.
	For time.Duration
}

// MaxCommandText bounds a command's text; Slack's own limit is lower.
const MaxCommandText = 4000

// Verb is one `/incident` subcommand: the one table of them drives
// parsing, `/incident help` and the README's list (TestVerbsInREADME).
// Adding a verb is adding one entry to Verbs.
type Verb struct {
	Name string
	// Args is the usage after the name: "[HH:MM] <text>".
	Args string
	// Help says what it does, for /incident help.
	Help string
	// Timed verbs record a moment and take an optional leading time.
	Timed bool
	// Anywhere verbs work outside an incident's channel.
	Anywhere bool
	// Parse checks the arguments (the words after the verb and its time)
	// into c; nil means the verb takes none. c.Text already holds the
	// arguments as typed.
	Parse func(c *Command, args []string) error
}

// Usage is the verb's usage line, "/incident note [HH:MM] <text>".
func (v Verb) Usage() string { return strings.TrimSpace("/incident " + v.Name + " " + v.Args) }

// Verbs are the `/incident` subcommands, in the order help lists them.
var Verbs = []Verb{
	{Name: "declare", Args: "<title> [sev1..sev4|P1..P4]", Help: "open an incident by hand; you lead it; without a title, a form", Anywhere: true, Parse: parseDeclare},
	{Name: "list", Help: "open incidents", Anywhere: true},
	{Name: "help", Help: "this list", Anywhere: true},
	{Name: "ack", Args: "[HH:MM]", Help: "acknowledge", Timed: true},
	{Name: "sev", Args: "[HH:MM] <1-4>", Help: "set the severity", Timed: true, Parse: parseSev},
	{Name: "status", Args: "[HH:MM] <investigating|identified|monitoring|resolved>", Help: "set the status (mitigated = monitoring)", Timed: true, Parse: parseStatus},
	{Name: "lead", Args: "[HH:MM] <@user>", Help: "name the incident lead", Timed: true, Parse: needText},
	{Name: "note", Args: "[HH:MM] <text>", Help: "add a note to the timeline", Timed: true, Parse: needText},
	{Name: "impact", Args: "[HH:MM] <text>", Help: "record who was affected, for the postmortem", Timed: true, Parse: needText},
	{Name: "cause", Args: "[HH:MM] <text>", Help: "record the cause in one line, for the postmortem", Timed: true, Parse: needText},
	{Name: "action", Args: "[HH:MM] <text>", Help: "a follow-up task for the postmortem", Timed: true, Parse: needText},
	{Name: "runbook", Args: "[name]", Help: "list the runbooks, or post one as a checklist", Parse: parseRunbook},
	{Name: "timeline", Help: "the newest timeline entries"},
	{Name: "postmortem", Help: "post the draft into the channel as a file"},
	{Name: "resolve", Args: "[HH:MM] [summary]", Help: "resolve, with what restored service", Timed: true, Parse: anyText},
	{Name: "reopen", Args: "[HH:MM]", Help: "reopen a resolved incident", Timed: true},
	{Name: "silence", Args: "[duration: 30m, 2h, 1d...; default 2h, at most 7d] [comment]", Help: "silence the alert group in Alertmanager", Parse: parseSilence},
	{Name: "unsilence", Help: "expire the incident's silences"},
	{Name: "page", Args: "<team|@user> [message]", Help: "start a team's escalation policy for this incident, or page one person", Parse: parsePage},
	{Name: "profile", Help: "capture a heap profile now and diff it against the first"},
}

// LookupVerb returns the verb with this name.
func LookupVerb(name string) (Verb, bool) {
	for _, v := range Verbs {
		if v.Name == name {
			return v, true
		}
	}
	return Verb{}, false
}

// Usage returns the usage line of a verb, or "" for an unknown one.
func Usage(verb string) string {
	if v, ok := LookupVerb(verb); ok {
		return v.Usage()
	}
	return ""
}

// ParseCommand reads the text after `/incident`. The leading time may stand
// right after the verb ("note 14:05 restarted") or before it ("14:05 note
// restarted"). Errors wrap ErrInvalid and say how to write the command.
func ParseCommand(text string) (Command, error) {
	if !utf8.ValidString(text) {
		return Command{}, fmt.Errorf("%w: the command is not valid UTF-8", ErrInvalid)
	}
	if len(text) > MaxCommandText {
		return Command{}, fmt.Errorf("%w: the command is longer than %d bytes", ErrInvalid, MaxCommandText)
	}
	text = CleanText(text) // the one rule for inbound text: no NUL, no control characters
	words := strings.Fields(text)
	if len(words) == 0 {
		return Command{Verb: "help"}, nil
	}
	var c Command
	if when, n := whenPrefix(words); n > 0 && len(words) > n {
		c.When, words = when, words[n:]
	}
	c.Verb = strings.ToLower(words[0])
	spec, ok := LookupVerb(c.Verb)
	if !ok {
		return Command{}, fmt.Errorf("%w: unknown subcommand %q; try /incident help", ErrInvalid, words[0])
	}
	args := words[1:]
	if when, n := whenPrefix(args); spec.Timed && c.When == "" && n > 0 {
		c.When, args = when, args[n:]
	}
	if c.When != "" && !spec.Timed {
		return Command{}, fmt.Errorf("%w: %s does not take a time; usage: %s", ErrInvalid, c.Verb, spec.Usage())
	}
	// Keep the user's own spacing inside free text.
	c.Text = restAfter(text, len(strings.Fields(text))-len(args))
	if spec.Parse == nil {
		if len(args) > 0 {
			return Command{}, fmt.Errorf("%w: %s takes no arguments; usage: %s", ErrInvalid, c.Verb, spec.Usage())
		}
		return c, nil
	}
	if err := spec.Parse(&c, args); err != nil {
		return Command{}, fmt.Errorf("%w: %s; usage: %s", ErrInvalid, err.Error(), spec.Usage())
	}
	return c, nil
}

func parseDeclare(c *Command, args []string) error {
	if sev, n := trailingSeverity(args); n > 0 {
		c.Severity, args = sev, args[:len(args)-n]
	}
	if len(args) == 0 && c.Severity != 0 {
		return errors.New("declare needs a title")
	}
	c.Text = strings.Join(args, " ") // empty: the chat opens the declare form
	return nil
}

// trailingSeverity reads a severity at the end of a title, as people write
// it: "sev1", "SEV-1", "sev 1", "P1". It returns how many words it took.
// A bare trailing number is part of the title ("Disk 2").
func trailingSeverity(args []string) (Severity, int) {
	n := len(args)
	if n >= 2 && strings.EqualFold(args[n-2], "sev") {
		if sev, err := ParseSeverity(args[n-1]); err == nil && isDigits(args[n-1]) {
			return sev, 2
		}
	}
	if n >= 1 && !isDigits(args[n-1]) {
		if sev, err := ParseSeverity(args[n-1]); err == nil {
			return sev, 1
		}
	}
	return 0, 0
}

func isDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

func parseSev(c *Command, args []string) error {
	if len(args) == 2 && strings.EqualFold(args[0], "sev") {
		args = []string{args[0] + args[1]}
	}
	if len(args) != 1 {
		return errors.New("sev needs one severity")
	}
	sev, err := ParseSeverity(args[0])
	if err != nil {
		return fmt.Errorf("%q is not a severity", args[0])
	}
	c.Severity, c.Text = sev, ""
	return nil
}

func parseStatus(c *Command, args []string) error {
	if len(args) != 1 {
		return errors.New("status needs one status")
	}
	st, err := ParseStatus(args[0])
	if err != nil {
		return fmt.Errorf("%q is not a status", args[0])
	}
	c.Status, c.Text = st, ""
	return nil
}

func needText(c *Command, args []string) error {
	if len(args) == 0 {
		return errors.New(c.Verb + " needs text")
	}
	return nil
}

func anyText(*Command, []string) error { return nil }

func parseSilence(c *Command, args []string) error {
	if len(args) > 0 {
		if d, err := ParseSpan(args[0]); err == nil {
			if d < minSilence || d > MaxSilence {
				return fmt.Errorf("a silence lasts from 1m to 7d, not %s", args[0])
			}
			c.For, c.Text = d, restAfter(c.Text, 1)
		} else if looksLikeSpan(args[0]) {
			return errors.New(strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
		}
	}
	return nil
}

// looksLikeSpan reports whether a word starts like a duration (a digit),
// so that "silence 2x" is refused instead of taken as a comment.
func looksLikeSpan(w string) bool { return w != "" && w[0] >= '0' && w[0] <= '9' }

func parsePage(c *Command, args []string) error {
	if len(args) == 0 {
		return errors.New("page needs a team or a person")
	}
	return nil
}

func parseRunbook(c *Command, args []string) error {
	if len(args) > 1 {
		return errors.New("runbook takes at most one name")
	}
	return nil
}

// restAfter returns text after its first n words, trimmed.
func restAfter(text string, n int) string {
	rest := strings.TrimFunc(text, unicode.IsSpace)
	for i := 0; i < n && rest != ""; i++ {
		j := strings.IndexFunc(rest, unicode.IsSpace)
		if j < 0 {
			return ""
		}
		rest = strings.TrimLeftFunc(rest[j:], unicode.IsSpace)
	}
	return rest
}

// Action turns a lifecycle command into the Action it asks for; ok is false
// for verbs that change nothing (list, help, timeline...).
func (c Command) Action(actor string) (a Action, ok bool) {
	ops := map[string]Op{"ack": OpAck, "sev": OpSeverity, "status": OpStatus, "lead": OpLead, "note": OpNote,
		"impact": OpImpact, "cause": OpCause, "action": OpAction, "resolve": OpResolve, "reopen": OpReopen}
	op, ok := ops[c.Verb]
	if !ok {
		return Action{}, false
	}
	return Action{Op: op, Actor: actor, When: c.When, Text: c.Text, Severity: c.Severity, Status: c.Status}, true
}
