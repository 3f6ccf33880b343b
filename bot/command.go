package bot

import (
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

// verbs maps each verb to its usage and whether it takes a leading time.
var verbs = map[string]struct {
	usage string
	timed bool
}{
	"declare":    {"/incident declare <title> [sev1|sev2|sev3|sev4]", false},
	"list":       {"/incident list", false},
	"help":       {"/incident help", false},
	"ack":        {"/incident [HH:MM] ack", true},
	"sev":        {"/incident sev [HH:MM] <1-4>", true},
	"status":     {"/incident status [HH:MM] <investigating|identified|monitoring|resolved>", true},
	"lead":       {"/incident lead [HH:MM] <@user>", true},
	"note":       {"/incident note [HH:MM] <text>", true},
	"impact":     {"/incident impact [HH:MM] <text>", true},
	"cause":      {"/incident cause [HH:MM] <text>", true},
	"action":     {"/incident action [HH:MM] <text>", true},
	"runbook":    {"/incident runbook [name]", false},
	"timeline":   {"/incident timeline", false},
	"postmortem": {"/incident postmortem", false},
	"resolve":    {"/incident resolve [HH:MM] [summary]", true},
	"reopen":     {"/incident reopen [HH:MM]", true},
	"silence":    {"/incident silence [duration: 30m, 2h, 1d...; default 2h, at most 7d] [comment]", false},
	"unsilence":  {"/incident unsilence", false},
	"profile":    {"/incident profile", false},
	"page":       {"/incident page <team|@user> [message]", false},
}

// Usage returns the usage line of a verb, or "" for an unknown one.
func Usage(verb string) string { return verbs[verb].usage }

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
	words := strings.Fields(text)
	if len(words) == 0 {
		return Command{Verb: "help"}, nil
	}
	var c Command
	if LooksLikeWhen(words[0]) && len(words) > 1 {
		c.When, words = words[0], words[1:]
	}
	c.Verb = strings.ToLower(words[0])
	spec, ok := verbs[c.Verb]
	if !ok {
		return Command{}, fmt.Errorf("%w: unknown subcommand %q; try /incident help", ErrInvalid, words[0])
	}
	args := words[1:]
	if spec.timed && c.When == "" && len(args) > 0 && LooksLikeWhen(args[0]) {
		c.When, args = args[0], args[1:]
	}
	if c.When != "" && !spec.timed {
		return Command{}, fmt.Errorf("%w: %s does not take a time; usage: %s", ErrInvalid, c.Verb, spec.usage)
	}
	// Keep the user's own spacing inside free text.
	c.Text = restAfter(text, len(strings.Fields(text))-len(args))
	return c, c.parseArgs(args, spec.usage)
}

func (c *Command) parseArgs(args []string, usage string) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s; usage: %s", ErrInvalid, what, usage) }
	switch c.Verb {
	case "declare":
		if n := len(args); n > 0 {
			if sev, err := ParseSeverity(args[n-1]); err == nil && strings.HasPrefix(strings.ToLower(args[n-1]), "sev") {
				c.Severity, args = sev, args[:n-1]
			}
		}
		if len(args) == 0 {
			return bad("declare needs a title")
		}
		c.Text = strings.Join(args, " ")
	case "sev":
		if len(args) != 1 {
			return bad("sev needs one severity")
		}
		sev, err := ParseSeverity(args[0])
		if err != nil {
			return bad(fmt.Sprintf("%q is not a severity", args[0]))
		}
		c.Severity, c.Text = sev, ""
	case "status":
		if len(args) != 1 {
			return bad("status needs one status")
		}
		st, err := ParseStatus(args[0])
		if err != nil {
			return bad(fmt.Sprintf("%q is not a status", args[0]))
		}
		c.Status, c.Text = st, ""
	case "lead", "note", "impact", "cause", "action":
		if len(args) == 0 {
			return bad(c.Verb + " needs text")
		}
	case "silence":
		if len(args) > 0 {
			if d, err := ParseSpan(args[0]); err == nil {
				if d < minSilence || d > MaxSilence {
					return bad(fmt.Sprintf("a silence lasts from 1m to 7d, not %s", args[0]))
				}
				c.For, c.Text = d, restAfter(c.Text, 1)
			} else if looksLikeSpan(args[0]) {
				return bad(strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
			}
		}
	case "list", "help", "ack", "timeline", "postmortem", "reopen", "unsilence", "profile":
		if len(args) > 0 {
			return bad(c.Verb + " takes no arguments")
		}
	case "page":
		if len(args) == 0 {
			return bad("page needs a team or a person")
		}
	case "runbook":
		if len(args) > 1 {
			return bad("runbook takes at most one name")
		}
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

// looksLikeSpan reports whether a word starts like a duration (a digit),
// so that "silence 2x" is refused instead of taken as a comment.
func looksLikeSpan(w string) bool { return w != "" && w[0] >= '0' && w[0] <= '9' }
