package runbooks

import (
	"bytes"
	"sort"
	"strconv"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// markdown is the CommonMark parser (with GitHub's tables, strikethrough,
// autolinks and task lists, as runbooks read on GitHub) that splits a body
// into steps. Renderers parse a step's Markdown with the same extensions.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// body is a parsed runbook body: its source and where each line starts.
type body struct {
	src    []byte
	starts []int // byte offset of each line
	first  int   // file line of the body's first line
}

// parseBody reads the Markdown after the front matter with a CommonMark
// parser. The items of the ordered lists at the left margin are the steps;
// what comes before the first is the intro; paragraphs, code and lists
// between or after the steps belong to the step before them; headings
// between steps structure the file for its readers and are left out. Each
// step keeps its Markdown, the source of truth for every renderer. first is
// the file line of lines[0].
func parseBody(lines []string, first int, at func(int, string, ...any) Problem) (intro string, steps []bot.RunbookStep, stepLines []int, probs []Problem) {
	b := body{src: []byte(strings.Join(lines, "\n") + "\n"), first: first}
	b.starts = make([]int, 0, len(lines))
	off := 0
	for _, l := range lines {
		b.starts = append(b.starts, off)
		off += len(l) + 1
	}
	doc := markdown.Parser().Parse(text.NewReader(b.src))
	probs = append(probs, b.unclosedFences(doc, at)...)

	introEnd := len(lines)
	var guidance []string // Markdown after the current step, before the next
	prevWritten := 0      // the number the file gives the step before
	flush := func() {
		if len(steps) > 0 && len(guidance) > 0 {
			st := &steps[len(steps)-1]
			st.Markdown = strings.TrimSpace(st.Markdown + "\n\n" + strings.Join(guidance, "\n\n"))
		}
		guidance = nil
	}
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		list, isList := n.(*ast.List)
		switch {
		case isList && list.IsOrdered():
			if len(steps) == 0 {
				introEnd = b.lineOf(n)
			}
			flush()
			for it := n.FirstChild(); it != nil; it = it.NextSibling() {
				st, written, p := b.step(it.(*ast.ListItem), len(steps), prevWritten, at)
				steps, prevWritten = append(steps, st), written
				stepLines = append(stepLines, b.first+b.lineOf(it))
				probs = append(probs, p...)
			}
		case len(steps) == 0:
		case n.Kind() == ast.KindHeading:
		default:
			guidance = append(guidance, strings.TrimSpace(b.region(n)))
		}
	}
	flush()
	return strings.TrimSpace(strings.Join(lines[:introEnd], "\n")), steps, stepLines, probs
}

// step reads one list item as the step after the prev ones, checking the
// number written in the file against the one written before it.
func (b body) step(it *ast.ListItem, prev, prevWritten int, at func(int, string, ...any) Problem) (bot.RunbookStep, int, []Problem) {
	var probs []Problem
	line := b.lineOf(it)
	n := itemNumber(b.line(line))
	switch {
	case prev == 0 && n != 1:
		probs = append(probs, at(b.first+line, "first step is numbered %s, want 1", number(n)))
	case prev > 0 && n > prevWritten+1:
		probs = append(probs, at(b.first+line, "step numbering gap: step %s follows step %s, want %d", number(n), number(prevWritten), prevWritten+1))
	case prev > 0 && n != prevWritten+1:
		probs = append(probs, at(b.first+line, "step numbered %s follows step %s, want %d", number(n), number(prevWritten), prevWritten+1))
	}
	st := bot.RunbookStep{N: prev + 1}
	if p := it.FirstChild(); p != nil && (p.Kind() == ast.KindParagraph || p.Kind() == ast.KindTextBlock) {
		st.Text = strings.Join(strings.Fields(plainText(p, b.src)), " ")
	}
	if st.Text == "" {
		probs = append(probs, at(b.first+line, "step %d has no text", st.N))
	}
	st.Markdown = b.itemMarkdown(it)
	return st, n, probs
}

// itemMarkdown is the source of a list item without its marker, its lines
// moved left by the item's indentation so that nested lists and code keep
// their shape.
func (b body) itemMarkdown(it *ast.ListItem) string {
	from, to := b.lineOf(it), b.end(it)
	// Lines indented up to 3 columns past the item's content column mean
	// the same as lines at it; when all of them are, move them all.
	shift := -1
	for i := from + 1; i < to; i++ {
		l := b.line(i)
		if ind := len(l) - len(strings.TrimLeft(l, " ")); ind < len(l) && (shift < 0 || ind < shift) {
			shift = ind
		}
	}
	if shift < it.Offset || shift > it.Offset+3 {
		shift = it.Offset
	}
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		l := b.line(i)
		if i == from {
			if len(l) > it.Offset {
				l = l[it.Offset:]
			} else {
				l = ""
			}
		} else {
			ind := len(l) - len(strings.TrimLeft(l, " "))
			l = l[min(ind, shift):]
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// region is the source of a top-level block.
func (b body) region(n ast.Node) string {
	from, to := b.lineOf(n), b.end(n)
	if from >= to {
		return ""
	}
	return string(b.src[b.starts[from] : b.starts[to-1]+len(b.line(to-1))])
}

// end is the index of the line after n: where the next block starts.
func (b body) end(n ast.Node) int {
	for x := n; x != nil; x = x.Parent() {
		if next := x.NextSibling(); next != nil {
			return b.lineOf(next)
		}
	}
	return len(b.starts)
}

// lineOf is the index of the line where block n starts.
func (b body) lineOf(n ast.Node) int {
	pos := n.Pos()
	if pos < 0 {
		if l := n.Lines(); l != nil && l.Len() > 0 {
			pos = l.At(0).Start
		} else if c := n.FirstChild(); c != nil {
			return b.lineOf(c)
		} else {
			pos = 0
		}
	}
	return sort.Search(len(b.starts), func(i int) bool { return b.starts[i] > pos }) - 1
}

func (b body) line(i int) string {
	start, end := b.starts[i], len(b.src)-1
	if i+1 < len(b.starts) {
		end = b.starts[i+1] - 1
	}
	return string(b.src[start:end])
}

// unclosedFences reports fenced code blocks without a closing fence: the
// parser ends them with their container, which swallows what the author
// meant to come after.
func (b body) unclosedFences(doc ast.Node, at func(int, string, ...any) Problem) (probs []Problem) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		f, ok := n.(*ast.FencedCodeBlock)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		open := b.lineOf(f)
		fence := strings.TrimLeft(b.line(open), " >")
		for strings.IndexAny(fence, "`~") > 0 && (fence[0] >= '0' && fence[0] <= '9' || strings.ContainsRune("-+*.) >", rune(fence[0]))) {
			fence = fence[1:] // a list marker or quote before the fence
		}
		char := byte('`')
		if i := strings.IndexAny(fence, "`~"); i >= 0 {
			char = fence[i]
			fence = fence[i:]
		}
		width := len(fence) - len(strings.TrimLeft(fence, string(char)))
		next := open + 1
		if l := f.Lines(); l.Len() > 0 {
			next = b.lineAt(l.At(l.Len()-1).Start) + 1
		}
		if next < len(b.starts) {
			t := strings.TrimSpace(strings.TrimLeft(b.line(next), " >"))
			if len(t) >= width && strings.Trim(t, string(char)) == "" {
				return ast.WalkSkipChildren, nil
			}
		}
		probs = append(probs, at(b.first+open, "code fence opened here is never closed"))
		return ast.WalkSkipChildren, nil
	})
	return probs
}

func (b body) lineAt(pos int) int {
	return sort.Search(len(b.starts), func(i int) bool { return b.starts[i] > pos }) - 1
}

// itemNumber reads the number an ordered list item's line starts with; -1
// when it is too large to be one.
func itemNumber(l string) int {
	l = strings.TrimLeft(l, " ")
	i := 0
	for i < len(l) && l[i] >= '0' && l[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(l[:i])
	if err != nil {
		return -1
	}
	return n
}

func number(n int) string {
	if n < 0 {
		return "(too large)"
	}
	return strconv.Itoa(n)
}

// plainText is the text of a block's inlines without their markup: code
// spans keep their content, links their text, soft line breaks become
// spaces. It names a step in timeline entries and the postmortem draft.
func plainText(n ast.Node, src []byte) string {
	var buf bytes.Buffer
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			buf.Write(c.Segment.Value(src))
			if c.SoftLineBreak() || c.HardLineBreak() {
				buf.WriteByte(' ')
			}
		case *ast.String:
			buf.Write(c.Value)
		case *ast.AutoLink:
			buf.Write(c.URL(src))
			return ast.WalkSkipChildren, nil
		case *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return buf.String()
}
