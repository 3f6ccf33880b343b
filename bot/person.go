package bot

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// People are named in one normal form everywhere (actors, the lead, who
// acknowledged): a chat user ID such as "U0123ABCD". Slack sends mentions
// as "<@U0123ABCD|alice>" or "<@U0123ABCD>"; both, and the bare ID, read as
// the ID. Text that mentions people keeps the mention markup "<@ID>", which
// the chat shows as a mention and the draft replaces with the person's name.

var personRE = regexp.MustCompile(`^<?@?([UW][A-Z0-9]+)(?:\|[^<>]*)?>?$`)

// mentionRE finds mentions of people in text: "<@U123>" or "<@U123|name>".
var mentionRE = regexp.MustCompile(`<@([UW][A-Z0-9]+)(?:\|([^<>|]*))?>`)

// PersonID returns the user ID of a person written as "U123", "<@U123>" or
// "<@U123|name>", or "" when s is not one (bots such as "alertmanager",
// free text).
func PersonID(s string) string {
	m := personRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return ""
	}
	return m[1]
}

// Person returns the normal form of who: the user ID when who is a person,
// else who unchanged (ActorAlertmanager, ActorBot, ActorAPI).
func Person(who string) string {
	if id := PersonID(who); id != "" {
		return id
	}
	return who
}

// Mention writes who in mention markup, "<@U123>", when who is a person;
// anything else (a bot actor) is returned as is.
func Mention(who string) string {
	if id := PersonID(who); id != "" {
		return "<@" + id + ">"
	}
	return who
}

// NormalizeMentions rewrites every "<@U123|name>" in text to "<@U123>", so
// that one person is written one way.
func NormalizeMentions(text string) string {
	return mentionRE.ReplaceAllString(text, "<@$1>")
}

// MentionedPeople returns the user IDs mentioned in text, in order, each once.
func MentionedPeople(text string) []string {
	var out []string
	for _, m := range mentionRE.FindAllStringSubmatch(text, -1) {
		if !contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// ReplaceMentions replaces every mention in text with name(id, label),
// label being the "|name" part Slack sent, if any.
func ReplaceMentions(text string, name func(id, label string) string) string {
	return mentionRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := mentionRE.FindStringSubmatch(m)
		return name(sub[1], sub[2])
	})
}

// Directory names people for documents read outside the chat, such as the
// postmortem draft, where a mention would be a bare ID.
type Directory interface {
	// DisplayName returns how to write the person with this user ID for
	// readers outside the chat: "Alice Example (@alice)". An unknown ID
	// returns an error wrapping ErrNotFound; other errors are transient.
	// It may call the chat, so it is never used on a request path that
	// must answer fast; ctx bounds it.
	DisplayName(ctx context.Context, id string) (string, error)
}

// maxNamesResolved and namesBudget bound the lookups of one document: a
// slow chat costs the draft its names, not its delivery.
const (
	maxNamesResolved = 100
	namesBudget      = 5 * time.Second
)

// ResolveNames asks dir for the display names of ids, skipping the ones it
// cannot name (they stay IDs in the document). A nil dir names nobody.
func ResolveNames(ctx context.Context, dir Directory, ids []string) map[string]string {
	if dir == nil || len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, namesBudget)
	defer cancel()
	names := make(map[string]string, len(ids))
	for i, id := range ids {
		if i == maxNamesResolved || ctx.Err() != nil {
			break
		}
		if n, err := dir.DisplayName(ctx, id); err == nil && strings.TrimSpace(n) != "" {
			names[id] = n
		}
	}
	return names
}
