package bot

import (
	"strings"
	"unicode"
)

// The draft is Markdown; text from people and alerts reaches it through
// exactly one of these, chosen by where it lands. Neither lets text start
// a line (so no heading, list item or table row), nor carry raw HTML, nor
// control characters.

// MarkdownLine makes text safe inside one line of Markdown: control
// characters go, whitespace (newlines too) folds to single spaces, < and >
// become entities (no HTML, no autolinks), and a leading #, >, - or + that
// a renderer could read as structure is escaped.
func MarkdownLine(s string) string {
	s = OneLine(StripControl(s))
	s = strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(s)
	if s != "" && strings.ContainsRune("#>-+=", rune(s[0])) {
		s = `\` + s
	}
	return s
}

// MarkdownCell makes text safe inside a cell of a Markdown table: a
// MarkdownLine whose | cannot end the cell.
func MarkdownCell(s string) string {
	return strings.ReplaceAll(MarkdownLine(s), "|", `\|`)
}

// MarkdownCode makes text safe inside an inline code span of a table cell:
// backticks cannot end the span, nor | the cell.
func MarkdownCode(s string) string {
	s = OneLine(StripControl(s))
	s = strings.ReplaceAll(s, "`", "'")
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// StripControl removes control characters (NUL, escape sequences, C1
// controls, bidi overrides) from text; tabs and newlines become spaces.
func StripControl(s string) string {
	if !strings.ContainsFunc(s, unwanted) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			return ' '
		case unwanted(r):
			return -1
		}
		return r
	}, s)
}

// unwanted are the runes no text we keep should carry: controls, and the
// bidirectional formatting characters that make text read other than it is.
func unwanted(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0xFEFF
}

// CleanText is the one rule for text arriving from outside (a command, a
// modal, the API): control characters removed, newlines kept (a note may
// have lines), surrounding space trimmed.
func CleanText(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && unwanted(r) }) {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t' || r == '\r':
			return ' '
		case unwanted(r):
			return -1
		}
		return r
	}, s))
}
