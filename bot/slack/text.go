package slack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// Escape is the one way text from outside (alert labels and annotations,
// titles, notes, names) reaches Slack's mrkdwn. It applies bot.CleanText
// (no control, bidi or invisible characters; newlines stay) and escapes &,
// < and >, Slack's control characters, so that text cannot page the
// workspace (<!channel>, <!here>, <!subteam^...>) nor disguise a link
// (<https://evil|docs>). Two things pass as they are: mentions of people
// and channels (<@U123>, <#C123|name>), which is how Slack sends them in
// what people type and how the bot writes who did what; and the entities
// &amp;, &lt;, &gt; already there, since text typed in Slack arrives
// escaped and must not show "&amp;lt;".
func Escape(s string) string {
	s = bot.CleanText(s)
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range mentionRE.FindAllStringIndex(s, -1) {
		escapeTo(&b, s[last:m[0]])
		b.WriteString(s[m[0]:m[1]])
		last = m[1]
	}
	escapeTo(&b, s[last:])
	return b.String()
}

var mentionRE = regexp.MustCompile(`<[@#][UWC][A-Z0-9]+(\|[^<>|]*)?>`)

func escapeTo(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '<':
			b.WriteString("&lt;")
		case c == '>':
			b.WriteString("&gt;")
		case c == '&' && !entityAt(s[i:]):
			b.WriteString("&amp;")
		default:
			b.WriteByte(c)
		}
	}
}

func entityAt(s string) bool {
	return strings.HasPrefix(s, "&amp;") || strings.HasPrefix(s, "&lt;") || strings.HasPrefix(s, "&gt;")
}

// link writes a mrkdwn link to an http(s) URL, or "" for anything else
// (javascript:, relative paths, garbage from an annotation). The URL's &
// is escaped like any mrkdwn text; Slack unescapes it.
func link(raw, label string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	s := strings.NewReplacer("&", "&amp;", "|", "%7C", "<", "%3C", ">", "%3E", " ", "%20").Replace(u.String())
	return "<" + s + "|" + Escape(label) + ">"
}

// code writes s as inline code; backticks would end it early.
func code(s string) string {
	return "`" + Escape(strings.ReplaceAll(s, "`", "'")) + "`"
}

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n -= len("…")
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// oneLine folds whitespace, for text that must stay on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// mention writes a person as Slack shows them: an actor that is a user ID
// becomes a mention, anything else stays text.
func mention(who string) string {
	if id := userID(who); id != "" {
		return "<@" + id + ">"
	}
	return Escape(who)
}

var userIDRE = regexp.MustCompile(`^<?@?([UW][A-Z0-9]{2,})(\|[^>]*)?>?$`)

// userID extracts a Slack user ID from "U123", "<@U123>" or
// "<@U123|name>"; "" when who is not one.
func userID(who string) string {
	m := userIDRE.FindStringSubmatch(strings.TrimSpace(who))
	if m == nil {
		return ""
	}
	return m[1]
}

// digest identifies a rendered message, so that a refresh edits only what
// changed.
func digest(text string, blocks []slackgo.Block) string {
	b, _ := json.Marshal(blocks)
	h := sha256.Sum256(append([]byte(text+"\x00"), b...))
	return hex.EncodeToString(h[:8])
}

// parseTS reads a Slack message timestamp ("1718892300.123456") as a
// time; the zero time when it is not one.
func parseTS(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err1 := strconv.ParseUint(sec, 10, 40)
	us, err2 := strconv.ParseUint((frac + "000000")[:6], 10, 32)
	if err1 != nil || err2 != nil {
		return time.Time{}
	}
	return time.Unix(int64(s), int64(us)*1000).UTC()
}

func mrkdwn(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.MarkdownType, s, false, false)
}

func plain(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.PlainTextType, s, true, false)
}
