package bot

import "strings"

// The draft is Markdown; text from people and alerts reaches it through
// exactly one of two functions, chosen by where it lands: MarkdownLine for
// running text, MarkdownCell for a table cell. Neither lets text start a
// line (so no heading, list item or table row), carry raw HTML, make a
// link or an image, or escape the escaping with a backslash.

// MarkdownLine makes text safe inside one line of Markdown: control
// characters go, whitespace (newlines too) folds to single spaces, a
// backslash is doubled (it cannot escape what follows), < and > become
// entities (no HTML, no autolinks), [ is escaped (no link, no image that
// loads from a tracker), and a leading #, >, -, +, = that a renderer could
// read as structure is escaped.
func MarkdownLine(s string) string {
	s = OneLine(CleanText(s))
	s = markdownEscaper.Replace(s)
	if s != "" && strings.ContainsRune("#>-+=", rune(s[0])) {
		s = `\` + s
	}
	return s
}

var markdownEscaper = strings.NewReplacer(`\`, `\\`, "<", "&lt;", ">", "&gt;", "[", `\[`)

// MarkdownCell makes text safe inside a cell of a Markdown table: a
// MarkdownLine whose | cannot end the cell. (The backslash MarkdownLine
// doubles matters here: `\|` from outside would otherwise become `\\|`, an
// escaped backslash followed by a cell border.)
func MarkdownCell(s string) string {
	return strings.ReplaceAll(MarkdownLine(s), "|", `\|`)
}

// CleanText is the one rule for text arriving from outside, on every
// inbound path alike: alert labels and annotations, slash commands, forms,
// corrections, the API. It removes NUL and the other C0 and C1 control
// characters except tab and newline (a carriage return becomes a newline,
// CRLF one newline), the bidirectional formatting characters that make
// text read other than it is (trojan-source), and the invisible ones that
// make two strings look alike (zero-width space, word joiner, BOM, soft
// hyphen). Zero-width joiner and non-joiner stay: emoji sequences and
// several scripts need them. docs/hostile-input.md lists the set. Text
// without any of them comes back as it is, without allocating; nothing is
// trimmed (callers that want it trim).
func CleanText(s string) string {
	if !hasUnwanted(s) {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\r':
			return '\n'
		case unwanted(r):
			return -1
		}
		return r
	}, s)
}

// hasUnwanted reports whether s holds a rune CleanText removes (or \r):
// byte by byte while s is ASCII, the common case at intake.
func hasUnwanted(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 0x80:
			return strings.ContainsFunc(s[i:], unwanted)
		case c < 0x20 && c != '\n' && c != '\t', c == 0x7F:
			return true
		}
	}
	return false
}

// unwanted are the runes CleanText removes (and \r, which it turns into
// \n).
func unwanted(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x80:
		return r < 0x20 || r == 0x7F
	case r <= 0x9F: // C1
		return true
	}
	switch r {
	case 0x00AD, // soft hyphen
		0x061C,         // Arabic letter mark
		0x200B,         // zero-width space
		0x200E, 0x200F, // left-to-right and right-to-left marks
		0x2060, // word joiner
		0xFEFF: // BOM, zero-width no-break space
		return true
	}
	return (r >= 0x202A && r <= 0x202E) || // embeddings and overrides
		(r >= 0x2066 && r <= 0x2069) || // isolates
		(r >= 0x2061 && r <= 0x2064) // invisible operators
}
