package slack

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Slack's limits on what one message may hold.
const (
	// maxSectionText is the most text a section block takes.
	maxSectionText = 3000
	// maxBlocks is the most blocks a message takes.
	maxBlocks = 50
)

// fence opens and closes a code block in Slack's mrkdwn. Slack shows what
// is between two fences as it is, newlines included, so commands paste
// line by line; it has no language line.
const fence = "```"

// markdown parses runbook Markdown the way the runbooks package splits it
// (CommonMark with GitHub's extensions).
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// mrkdwnRenderer turns Markdown into Slack mrkdwn, one string per
// top-level block. Text from the Markdown is escaped with Escape; $NAME
// and ${NAME} of a variable in vars become its value, which the caller has
// checked is plain (letters, digits, a few punctuation marks), so that it
// cannot end a code block, start markup, or do anything but name a thing
// when pasted into a shell.
type mrkdwnRenderer struct {
	src  []byte
	vars map[string]string
}

// renderMarkdown renders md for Slack: one mrkdwn string per top-level
// block, in order. Code blocks stay fenced blocks with their lines; the
// caller packs the strings into sections with packSections.
func renderMarkdown(md string, vars map[string]string) []string {
	r := mrkdwnRenderer{src: []byte(md), vars: vars}
	doc := markdown.Parser().Parse(text.NewReader(r.src))
	var out []string
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if s := r.block(n, 0); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// block renders one block node; depth is the list nesting it sits in.
func (r mrkdwnRenderer) block(n ast.Node, depth int) string {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		return r.inlines(n)
	case *ast.Heading:
		if t := r.plain(n); t != "" {
			return "*" + t + "*"
		}
		return ""
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		return r.code(n.Lines())
	case *ast.List:
		return r.list(n, depth)
	case *ast.Blockquote:
		return quote(r.children(n, depth))
	case *ast.ThematicBreak:
		return "───"
	case *ast.HTMLBlock:
		var b strings.Builder
		for i := 0; i < n.Lines().Len(); i++ {
			seg := n.Lines().At(i)
			b.Write(seg.Value(r.src))
		}
		if n.HasClosure() {
			b.Write(n.ClosureLine.Value(r.src))
		}
		s := strings.TrimSpace(b.String())
		if strings.HasPrefix(s, "<!--") {
			return "" // a comment for the file's editors
		}
		return r.literal(s)
	case *east.Table:
		return r.table(n)
	}
	return r.children(n, depth)
}

// children renders the blocks under n, one per line.
func (r mrkdwnRenderer) children(n ast.Node, depth int) string {
	var parts []string
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if s := r.block(c, depth); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n")
}

// code renders a code block's lines between fences, the language line
// left out. A line of three backticks inside would close Slack's block
// early: a zero-width space breaks it up.
func (r mrkdwnRenderer) code(lines *text.Segments) string {
	var b strings.Builder
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		b.Write(seg.Value(r.src))
	}
	body := strings.TrimRight(b.String(), "\n")
	if strings.TrimSpace(body) == "" {
		return ""
	}
	return fence + "\n" + unfence(Escape(r.expand(body, true))) + "\n" + fence
}

// unfence keeps text from containing a code fence of its own.
func unfence(s string) string {
	for strings.Contains(s, fence) {
		s = strings.ReplaceAll(s, fence, "``\u200b`")
	}
	return s
}

// list renders a list with one line per item, nested lists indented
// under their item.
func (r mrkdwnRenderer) list(l *ast.List, depth int) string {
	indent := strings.Repeat("    ", depth)
	bullets := []string{"•", "◦", "▪"}
	var lines []string
	num := l.Start
	for it := l.FirstChild(); it != nil; it = it.NextSibling() {
		marker := bullets[depth%len(bullets)]
		if l.IsOrdered() {
			marker = strconv.Itoa(num) + "."
			num++
		}
		first := true
		for c := it.FirstChild(); c != nil; c = c.NextSibling() {
			var s string
			switch c.Kind() {
			case ast.KindList:
				lines = append(lines, r.list(c.(*ast.List), depth+1))
				continue
			case ast.KindFencedCodeBlock, ast.KindCodeBlock:
				s = r.block(c, depth+1) // fences sit at the line start
				lines = append(lines, s)
				first = false
				continue
			default:
				s = r.block(c, depth+1)
			}
			if s == "" {
				continue
			}
			if first {
				lines = append(lines, indent+marker+" "+s)
				first = false
			} else {
				lines = append(lines, indent+"    "+s)
			}
		}
		if first {
			lines = append(lines, indent+marker)
		}
	}
	return strings.Join(lines, "\n")
}

// quote prefixes each line with "> ", except the lines of code blocks.
func quote(s string) string {
	lines := strings.Split(s, "\n")
	in := false
	for i, l := range lines {
		if l == fence {
			in = !in
			continue
		}
		if !in {
			lines[i] = "> " + l
		}
	}
	return strings.Join(lines, "\n")
}

// table renders a table as a code block with its columns aligned: Slack
// has no tables.
func (r mrkdwnRenderer) table(t *east.Table) string {
	var rows [][]string
	var widths []int
	for row := t.FirstChild(); row != nil; row = row.NextSibling() {
		var cells []string
		for i, c := 0, row.FirstChild(); c != nil; i, c = i+1, c.NextSibling() {
			s := strings.Join(strings.Fields(r.plainRaw(c)), " ")
			cells = append(cells, s)
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
		rows = append(rows, cells)
	}
	var b strings.Builder
	for _, cells := range rows {
		for i, s := range cells {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(s)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s)))
			}
		}
		b.WriteByte('\n')
	}
	body := strings.TrimRight(b.String(), "\n")
	if strings.TrimSpace(body) == "" {
		return ""
	}
	return fence + "\n" + unfence(Escape(body)) + "\n" + fence
}

// inlines renders the inline content of a paragraph, heading or cell.
func (r mrkdwnRenderer) inlines(n ast.Node) string {
	b := &strings.Builder{}
	var run []byte // consecutive text, expanded as one ($NS_X may span nodes)
	flush := func() {
		if len(run) > 0 {
			b.WriteString(r.literal(r.expand(string(run), false)))
			run = run[:0]
		}
	}
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Text:
				run = append(run, unescape(c.Segment.Value(r.src))...)
				switch {
				case c.HardLineBreak():
					run = append(run, '\n')
				case c.SoftLineBreak():
					run = append(run, ' ')
				}
				continue
			case *ast.String:
				run = append(run, c.Value...)
				continue
			}
			flush()
			switch c := c.(type) {
			case *ast.CodeSpan:
				var code []byte
				for t := c.FirstChild(); t != nil; t = t.NextSibling() {
					if t, ok := t.(*ast.Text); ok {
						code = append(code, t.Segment.Value(r.src)...)
					}
				}
				// CommonMark reads a line break in a code span as a space.
				s := strings.ReplaceAll(strings.ReplaceAll(string(code), "\n", " "), "`", "'")
				if s = r.expand(s, true); strings.TrimSpace(s) != "" {
					b.WriteString("`" + Escape(s) + "`")
				}
			case *ast.Emphasis:
				mark := "_"
				if c.Level >= 2 {
					mark = "*"
				}
				saved := b
				b = &strings.Builder{}
				walk(c)
				flush()
				s := b.String()
				b = saved
				if strings.TrimSpace(s) != "" {
					b.WriteString(mark + s + mark)
				}
			case *east.Strikethrough:
				saved := b
				b = &strings.Builder{}
				walk(c)
				flush()
				s := b.String()
				b = saved
				b.WriteString("~" + s + "~")
			case *ast.Link:
				b.WriteString(r.link(string(c.Destination), r.plainRaw(c)))
			case *ast.Image:
				b.WriteString(r.link(string(c.Destination), orText(r.plainRaw(c), "image")))
			case *ast.AutoLink:
				u := string(c.URL(r.src))
				if c.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(u, "mailto:") {
					b.WriteString(r.literal(u))
				} else {
					b.WriteString(r.link(u, u))
				}
			case *ast.RawHTML:
				var raw []byte
				for i := 0; i < c.Segments.Len(); i++ {
					seg := c.Segments.At(i)
					raw = append(raw, seg.Value(r.src)...)
				}
				if !bytes.HasPrefix(raw, []byte("<!--")) {
					b.WriteString(r.literal(string(raw)))
				}
			case *east.TaskCheckBox:
				if c.IsChecked {
					b.WriteString("☑ ")
				} else {
					b.WriteString("☐ ")
				}
			default:
				walk(c)
			}
		}
	}
	walk(n)
	flush()
	return strings.TrimSpace(b.String())
}

// link renders a link as <url|text> when it is http(s) after filling in
// variables; other destinations (relative paths, javascript:) show only
// their text.
func (r mrkdwnRenderer) link(dest, label string) string {
	label = strings.Join(strings.Fields(r.expand(label, false)), " ")
	u := r.expand(string(unescape([]byte(dest))), true)
	if l := link(u, orText(label, u)); l != "" {
		return l
	}
	return r.literal(label)
}

// literal escapes text for mrkdwn.
func (r mrkdwnRenderer) literal(s string) string { return unfence(Escape(s)) }

// plain is a node's text without markup, escaped, on one line.
func (r mrkdwnRenderer) plain(n ast.Node) string {
	return r.literal(strings.Join(strings.Fields(r.expand(r.plainRaw(n), false)), " "))
}

// plainRaw is a node's text without markup.
func (r mrkdwnRenderer) plainRaw(n ast.Node) string {
	var b []byte
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b = append(b, unescape(c.Segment.Value(r.src))...)
			if c.SoftLineBreak() || c.HardLineBreak() {
				b = append(b, ' ')
			}
		case *ast.String:
			b = append(b, c.Value...)
		case *ast.AutoLink:
			b = append(b, c.URL(r.src)...)
			return ast.WalkSkipChildren, nil
		case *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return string(b)
}

// expand replaces $NAME and ${NAME} of the variables in vars with their
// values; in prose (!code) a value shows as inline code, set apart from
// the text it stands in. Unknown names stay as written.
func (r mrkdwnRenderer) expand(s string, code bool) string {
	if len(r.vars) == 0 || !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		name, n := varAt(s[i:])
		if v, ok := r.vars[name]; ok && n > 0 {
			if code {
				b.WriteString(v)
			} else {
				b.WriteString("`" + v + "`")
			}
			s = s[i+n:]
			continue
		}
		b.WriteByte('$')
		s = s[i+1:]
	}
}

// varAt reads the variable reference s starts with ("$NAME" or
// "${NAME}"): its name and length, or 0 when it is none.
func varAt(s string) (string, int) {
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 3 {
			return "", 0
		}
		return s[2:end], end + 1
	}
	j := 1
	for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
		j++
	}
	if j == 1 {
		return "", 0
	}
	return s[1:j], j
}

// unescape resolves Markdown's backslash escapes and character references
// in text: "\*" is "*", "&amp;" is "&" (Escape writes it again).
func unescape(b []byte) []byte {
	return util.ResolveEntityNames(util.ResolveNumericReferences(util.UnescapePunctuations(b)))
}

func orText(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
