package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The action IDs of the buttons the chat adapter posts. The inbound adapter
// (webhooks) dispatches on them, so they are part of the contract between
// the two and must not change.
const (
	// ActionAck acknowledges the incident; the button's value is the incident ID.
	ActionAck = "incident_ack"
	// ActionResolve resolves the incident; the button's value is the incident ID.
	ActionResolve = "incident_resolve"
	// ActionRunbookStep marks a runbook step done; the value is StepValue's.
	ActionRunbookStep = "runbook_step"
)

// The action IDs of the incident message's buttons added for issue 9.
const (
	// ActionReopen reopens a resolved incident; the value is the incident ID.
	ActionReopen = "incident_reopen"
	// ActionEntryMenu is the overflow menu of a timeline entry's line in
	// a change post; each option's value is EntryValue's.
	ActionEntryMenu = "timeline_entry"
	// CallbackCorrect is the callback ID of the modal that corrects an
	// entry; its private metadata is EntryValue's with the op "edit".
	CallbackCorrect = "timeline_correct"
	// CallbackDeclare is the callback ID of the declare form: of the
	// modal, and of the global shortcut that opens it.
	CallbackDeclare = "incident_declare"
)

// EntryValue names a timeline entry and what to do with it,
// "<incident id>:<entry id>:<op>", op being "edit" or "strike".
func EntryValue(incident int64, entry uint64, op string) string {
	return strconv.FormatInt(incident, 10) + ":" + strconv.FormatUint(entry, 10) + ":" + op
}

// ParseEntryValue reads EntryValue's format. Errors wrap ErrInvalid.
func ParseEntryValue(v string) (incident int64, entry uint64, op string, err error) {
	parts := strings.Split(v, ":")
	if len(parts) == 3 {
		incident, err1 := strconv.ParseInt(parts[0], 10, 64)
		entry, err2 := strconv.ParseUint(parts[1], 10, 64)
		if err1 == nil && err2 == nil && incident > 0 && entry > 0 && (parts[2] == "edit" || parts[2] == "strike") {
			return incident, entry, parts[2], nil
		}
	}
	return 0, 0, "", fmt.Errorf("%w: timeline entry %s: want <incident>:<entry>:edit|strike", ErrInvalid, Quote(v))
}

// StepValue is the value of a runbook step's Done button,
// "<incident id>:<runbook name>:<step n>".
func StepValue(id int64, runbook string, n int) string {
	return strconv.FormatInt(id, 10) + ":" + runbook + ":" + strconv.Itoa(n)
}

// ParseStepValue reads StepValue's format. The runbook name may itself
// contain colons. Errors wrap ErrInvalid.
func ParseStepValue(v string) (id int64, runbook string, n int, err error) {
	first, last := strings.Index(v, ":"), strings.LastIndex(v, ":")
	if first < 0 || last == first {
		return 0, "", 0, fmt.Errorf("%w: runbook step %q: want <incident>:<runbook>:<step>", ErrInvalid, v)
	}
	id, err1 := strconv.ParseInt(v[:first], 10, 64)
	n, err2 := strconv.Atoi(v[last+1:])
	runbook = v[first+1 : last]
	if err1 != nil || err2 != nil || id < 1 || n < 1 || runbook == "" {
		return 0, "", 0, fmt.Errorf("%w: runbook step %q: want <incident>:<runbook>:<step>", ErrInvalid, v)
	}
	return id, runbook, n, nil
}

// MaxChannelName is Slack's limit on a channel name.
const MaxChannelName = 80

// maxPrefix keeps a configured prefix from crowding out the number and slug.
const maxPrefix = 20

// ChannelName names an incident's channel "<prefix>-<id>-<slug>", the slug
// made from title by Slug and cut so the whole name fits MaxChannelName.
// Attempt 1 is the plain name; attempt 2, 3... add "-2", "-3"... for when the
// name is taken (archived channels keep their names). An empty or invalid
// prefix means "inc".
func ChannelName(prefix string, id int64, title string, attempt int) string {
	p := Slug(prefix)
	if len(p) > maxPrefix {
		p = strings.TrimRight(p[:maxPrefix], "-")
	}
	if p == "" {
		p = "inc"
	}
	head := p + "-" + strconv.FormatInt(id, 10)
	suffix := ""
	if attempt > 1 {
		suffix = "-" + strconv.Itoa(attempt)
	}
	s := Slug(title)
	room := MaxChannelName - len(head) - len(suffix) - 1
	if room < 1 {
		s = ""
	} else if len(s) > room {
		s = strings.TrimRight(s[:room], "-")
	}
	if s != "" {
		head += "-" + s
	}
	return head + suffix
}

// ChannelTitle is the text an incident's channel is named after: its title
// (which starts with the alert name for incidents opened by alerts), or the
// first alert's name when it has no title.
func ChannelTitle(inc *Incident) string {
	if strings.TrimSpace(inc.Title) != "" {
		return inc.Title
	}
	if len(inc.Alerts) > 0 {
		return inc.Alerts[0].Name()
	}
	return ""
}

// Slug turns text into lowercase ASCII letters and digits separated by
// single dashes, as chat channel names allow. Accented Latin letters are
// folded (é to e, ß to ss); other characters (emoji, CJK, punctuation)
// separate words; apostrophes join them ("don't" is "dont"); CamelCase
// words are split ("HighErrorRate" is "high-error-rate").
func Slug(s string) string {
	var b strings.Builder
	rs := []rune(s)
	sep := false
	for i, r := range rs {
		if r == '\'' || r == '’' {
			continue
		}
		out := foldRune(unicode.ToLower(r))
		if out == "" {
			sep = true
			continue
		}
		if b.Len() > 0 && (sep || camelBreak(rs, i)) {
			b.WriteByte('-')
		}
		sep = false
		b.WriteString(out)
	}
	return b.String()
}

// camelBreak reports whether a word starts at rs[i] inside CamelCase:
// "errorRate" before R, "HTTPError" before E, "5xxErrors" before E.
func camelBreak(rs []rune, i int) bool {
	if i == 0 || !unicode.IsUpper(rs[i]) {
		return false
	}
	p := rs[i-1]
	if unicode.IsLower(p) || unicode.IsDigit(p) {
		return true
	}
	return unicode.IsUpper(p) && i+1 < len(rs) && unicode.IsLower(rs[i+1])
}

func foldRune(r rune) string {
	if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
		return string(r)
	}
	return folds[r]
}

// folds maps the lowercase Latin letters with diacritics that have an
// obvious ASCII spelling; the standard library has no Unicode
// normalization, and anything not here is dropped.
var folds = func() map[rune]string {
	m := map[rune]string{'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'đ': "d", 'ð': "d", 'þ': "th", 'ł': "l", 'ı': "i", 'ŀ': "l"}
	for base, variants := range map[string]string{
		"a": "àáâãäåāăą", "c": "çćĉċč", "d": "ď", "e": "èéêëēĕėęě", "g": "ĝğġģ",
		"h": "ĥħ", "i": "ìíîïĩīĭįǐ", "j": "ĵ", "k": "ķ", "l": "ĺļľ", "n": "ñńņňŉ",
		"o": "òóôõöōŏőǒ", "r": "ŕŗř", "s": "śŝşšș", "t": "ţťŧț", "u": "ùúûüũūŭůűųǔ",
		"w": "ŵ", "y": "ýÿŷ", "z": "źżž",
	} {
		for _, v := range variants {
			m[v] = base
		}
	}
	return m
}()

// ChatRecord is what one chat adapter keeps for one incident, stored
// beside the incident (Tx.ChatRecord) and written only by the delivery
// worker, in the transaction that records the step that changed it. The
// domain reads Room and RoomName and never looks into Data: a second chat
// adapter keeps its own record under its own name, and the Incident does
// not grow for it.
type ChatRecord struct {
	// Room is the adapter's handle of the incident's room (a Slack channel
	// ID), empty while there is none. The store indexes it per adapter, so
	// that a request from the room finds its incident (Tx.IncidentByRoom).
	Room string `json:"room,omitempty"`
	// RoomName is how people see the room ("inc-12-checkout-down").
	RoomName string `json:"room_name,omitempty"`
	// Data is the adapter's own state (message IDs, what it showed last...),
	// opaque to the domain and to the store.
	Data []byte `json:"data,omitempty"`
}

// IsZero reports whether the record holds nothing.
func (r ChatRecord) IsZero() bool { return r.Room == "" && r.RoomName == "" && len(r.Data) == 0 }

// Equal reports whether r and o hold the same.
func (r ChatRecord) Equal(o ChatRecord) bool {
	return r.Room == o.Room && r.RoomName == o.RoomName && string(r.Data) == string(o.Data)
}

// Checklist is a runbook posted into the incident's room as a checklist:
// its step buttons are accepted (markStep) up to Steps.
type Checklist struct {
	Runbook string `json:"runbook"`
	// Steps is how many steps it has; 0 when unknown (records moved from
	// before it was kept), which accepts any step.
	Steps int `json:"steps,omitempty"`
}

// Checklist returns the checklist of the runbook posted under this name.
func (inc *Incident) Checklist(runbook string) (Checklist, bool) {
	for _, c := range inc.Checklists {
		if c.Runbook == runbook {
			return c, true
		}
	}
	return Checklist{}, false
}

// setChecklist records c, in place of an earlier one of the same runbook,
// and reports whether anything changed.
func (inc *Incident) setChecklist(c Checklist) bool {
	for i := range inc.Checklists {
		if inc.Checklists[i].Runbook == c.Runbook {
			if inc.Checklists[i] == c {
				return false
			}
			inc.Checklists[i] = c
			return true
		}
	}
	inc.Checklists = append(inc.Checklists, c)
	return true
}

// RetryAfterError is a chat error that says when to try again: the chat is
// rate limiting us (Slack's HTTP 429 with Retry-After). The delivery worker
// waits that long without counting it as a failure.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("rate limited, retry after %s: %v", e.After, e.Err)
	}
	return "rate limited, retry after " + e.After.String()
}

func (e *RetryAfterError) Unwrap() error { return e.Err }
