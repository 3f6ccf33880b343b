package runbooks

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/bot"
)

var (
	// stepRE is a numbered list item at the left margin: a step.
	stepRE = regexp.MustCompile(`^(\d+)[.)](?: +(.*))?$`)
	// urlRE and mdLinkRE are a line that is nothing but a link.
	urlRE    = regexp.MustCompile(`^<?(https?://[^\s<>]+)>?$`)
	mdLinkRE = regexp.MustCompile(`^\[[^\]]*\]\(\s*<?(https?://[^\s<>)]+)>?(?:\s+"[^"]*")?\s*\)$`)
	// inlineMDLinkRE and inlineURLRE find a link inside a step's text.
	inlineMDLinkRE = regexp.MustCompile(`\[[^\]]*\]\(\s*<?(https?://[^\s<>)]+)`)
	inlineURLRE    = regexp.MustCompile(`https?://[^\s<>()\[\]]+`)
	listItemRE     = regexp.MustCompile(`^([-*+]|\d+[.)])( |$)`)
	headingRE      = regexp.MustCompile(`^#{1,6}( |$)`)
)

// Fenced block languages that become a step's Command or Query; other
// fenced blocks stay in the Guidance as they are.
var (
	commandLangs = map[string]bool{"sh": true, "bash": true, "shell": true, "zsh": true, "console": true}
	queryLangs   = map[string]bool{"promql": true, "prometheus": true}
)

// segment is the lines of one step: its numbered line and what follows it up
// to the next step.
type segment struct {
	line  int // file line of the numbered line
	num   int // the number as written; -1 when it does not parse
	head  string
	lines []string
}

// parseBody reads the Markdown after the front matter. first is the file
// line of lines[0].
func parseBody(lines []string, first int, at func(int, string, ...any) Problem) (intro string, steps []bot.RunbookStep, probs []Problem) {
	introLines, segs, unclosed := segments(lines, first)
	if unclosed > 0 {
		probs = append(probs, at(unclosed, "code fence opened here is never closed"))
	}
	for i, s := range segs {
		prev := 0
		if i > 0 {
			prev = segs[i-1].num
		}
		switch {
		case i == 0 && s.num != 1:
			probs = append(probs, at(s.line, "first step is numbered %s, want 1", number(s.num)))
		case i > 0 && s.num > prev+1:
			probs = append(probs, at(s.line, "step numbering gap: step %s follows step %s, want %d", number(s.num), number(prev), prev+1))
		case i > 0 && s.num != prev+1:
			probs = append(probs, at(s.line, "step numbered %s follows step %s, want %d", number(s.num), number(prev), prev+1))
		}
		st := parseStep(s)
		st.N = i + 1
		if st.Text == "" {
			probs = append(probs, at(s.line, "step %d has no text", st.N))
		}
		steps = append(steps, st)
	}
	return prose(introLines), steps, probs
}

// segments splits the body at its steps: numbered lines at the left margin
// outside code fences. unclosed is the line of a fence never closed, or 0.
func segments(lines []string, first int) (intro []string, segs []segment, unclosed int) {
	var open *fence
	for i, l := range lines {
		if open == nil {
			if m := stepRE.FindStringSubmatch(l); m != nil {
				n, err := strconv.Atoi(m[1])
				if err != nil {
					n = -1
				}
				segs = append(segs, segment{line: first + i, num: n, head: strings.TrimSpace(m[2])})
				continue
			}
			if f, ok := openFence(l); ok {
				open, unclosed = &f, first+i
			}
		} else if open.closes(l) {
			open, unclosed = nil, 0
		}
		if len(segs) == 0 {
			intro = append(intro, l)
		} else {
			segs[len(segs)-1].lines = append(segs[len(segs)-1].lines, l)
		}
	}
	return intro, segs, unclosed
}

func number(n int) string {
	if n < 0 {
		return "(too large)"
	}
	return strconv.Itoa(n)
}

// parseStep turns a segment into a step: the first line is its text, with
// the lines that continue its sentence; shell blocks and "$ " lines are its
// Command, promql blocks its Query, the first line that is only a link its
// Link, and everything else its Guidance.
func parseStep(s segment) bot.RunbookStep {
	var (
		st                  bot.RunbookStep
		text, cmds, queries []string
		guidance            []string
		body, indents       = dedent(s.lines)
		i                   int
	)
	blank := func() bool { return len(guidance) == 0 || guidance[len(guidance)-1] == "" }
	if s.head != "" {
		text = append(text, s.head)
	}
	for ; i < len(body) && !special(strings.TrimSpace(body[i])); i++ {
		if len(text) > 0 && !continues(text[len(text)-1], strings.TrimSpace(body[i])) {
			break
		}
		text = append(text, strings.TrimSpace(body[i]))
	}
	for i < len(body) {
		l := body[i]
		t := strings.TrimSpace(l)
		switch f, isFence := openFence(l); {
		case t == "":
			if !blank() {
				guidance = append(guidance, "")
			}
			i++
		case isFence:
			var content []string
			content, i = fenced(body, i, f)
			switch {
			case commandLangs[f.lang]:
				cmds = append(cmds, unindent(content[1:len(content)-1], f.indent))
			case queryLangs[f.lang]:
				queries = append(queries, unindent(content[1:len(content)-1], f.indent))
			default:
				guidance = append(guidance, content...)
			}
		case strings.HasPrefix(t, "$ "):
			var cmd string
			cmd, i = dollar(body, i)
			cmds = append(cmds, cmd)
		case st.Link == "" && linkOnly(t) != "":
			st.Link = linkOnly(t)
			i++
		case indents[i] == 0 && headingRE.MatchString(t):
			i++ // headings structure the file for its readers, not the checklist
		default:
			guidance = append(guidance, l)
			i++
		}
	}
	st.Text = strings.Join(text, " ")
	st.Command = strings.Join(cmds, "\n")
	st.Query = strings.Join(queries, "\n\n")
	st.Guidance = strings.TrimSpace(strings.Join(reflow(guidance), "\n"))
	if st.Link == "" {
		st.Link = inlineLink(st.Text)
	}
	return st
}

// continues reports whether next, a line right under a step's text,
// continues its sentence (a line wrapped in the file) rather than starting
// the step's guidance: the text does not end a sentence and next does not
// start with a capital letter.
func continues(text, next string) bool {
	r, _ := utf8.DecodeRuneInString(next)
	return !strings.ContainsAny(text[len(text)-1:], ".:!?") && !unicode.IsUpper(r)
}

// fenced returns the code block that opens at body[i], fences included
// (an unclosed block runs to the end and gets an empty closing line), and
// the index after it.
func fenced(body []string, i int, f fence) (block []string, next int) {
	j := i + 1
	for j < len(body) && !f.closes(body[j]) {
		j++
	}
	if j == len(body) {
		return append(slices.Clip(body[i:]), ""), j
	}
	return body[i : j+1], j + 1
}

// dollar returns the "$ cmd" command at body[i], with the lines a trailing
// backslash continues it onto, and the index after it.
func dollar(body []string, i int) (cmd string, next int) {
	parts := []string{strings.TrimSpace(strings.TrimSpace(body[i])[2:])}
	for strings.HasSuffix(parts[len(parts)-1], `\`) && i+1 < len(body) && strings.TrimSpace(body[i+1]) != "" {
		i++
		parts = append(parts, "  "+strings.TrimSpace(body[i]))
	}
	return strings.Join(parts, "\n"), i + 1
}

// special reports whether a trimmed line is blank or starts something other
// than a paragraph of text.
func special(t string) bool {
	_, isFence := openFence(t)
	return t == "" || isFence || strings.HasPrefix(t, "$ ") || linkOnly(t) != "" ||
		headingRE.MatchString(t) || listItemRE.MatchString(t) || strings.HasPrefix(t, ">")
}

// prose renders intro text: headings dropped outside code fences, runs of
// blank lines collapsed, trimmed.
func prose(lines []string) string {
	var out []string
	var open *fence
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch f, isFence := openFence(l); {
		case open != nil:
			if open.closes(l) {
				open = nil
			}
		case isFence:
			open = &f
		case headingRE.MatchString(l):
			continue
		case t == "" && (len(out) == 0 || out[len(out)-1] == ""):
			continue
		case t == "":
			l = ""
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(reflow(out), "\n"))
}

// reflow joins the lines of each paragraph and list item into one line, as
// Markdown renders them: chat clients show line breaks as they are, and a
// file wrapped at 80 columns would read ragged. Code blocks, headings,
// quotes, tables and hard line breaks keep their lines.
func reflow(lines []string) []string {
	var (
		out  []string
		para []string // the line being joined, in pieces (joining as we go is quadratic)
		open *fence
	)
	flush := func() {
		if len(para) > 0 {
			out, para = append(out, strings.Join(para, " ")), nil
		}
	}
	for _, l := range lines {
		t := strings.TrimSpace(l)
		f, isFence := openFence(l)
		switch {
		case open != nil:
			if open.closes(l) {
				open = nil
			}
			out = append(out, l)
			continue
		case isFence:
			flush()
			open = &f
			out = append(out, l)
			continue
		case t == "":
			flush()
			out = append(out, "")
			continue
		case len(para) > 0 && !listItemRE.MatchString(t) && !strings.HasPrefix(t, ">") && !strings.HasPrefix(t, "|") && !headingRE.MatchString(t):
			para = append(para, t)
		default:
			flush()
			para = []string{strings.TrimRight(l, " ")}
		}
		if headingRE.MatchString(t) || strings.HasPrefix(t, "|") || strings.HasSuffix(l, "  ") || strings.HasSuffix(l, `\`) {
			flush() // a hard line break: the next line starts its own
		}
	}
	flush()
	return out
}

// linkOnly returns the URL when a trimmed line is nothing but a bare URL or
// a Markdown link.
func linkOnly(t string) string {
	if m := urlRE.FindStringSubmatch(t); m != nil {
		return m[1]
	}
	if m := mdLinkRE.FindStringSubmatch(t); m != nil {
		return m[1]
	}
	return ""
}

// inlineLink returns the first link in a step's text, if any.
func inlineLink(s string) string {
	if m := inlineMDLinkRE.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return strings.TrimRight(inlineURLRE.FindString(s), ".,;:!?'\"")
}

// dedent removes the indentation that puts lines under a list item: the
// smallest indentation of the indented non-blank lines, so that nested
// structure keeps its shape. It also returns each line's original indent.
func dedent(lines []string) ([]string, []int) {
	k := -1
	indents := make([]int, len(lines))
	for i, l := range lines {
		indents[i] = len(l) - len(strings.TrimLeft(l, " "))
		if n := indents[i]; n > 0 && n < len(l) && (k < 0 || n < k) {
			k = n
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l[min(max(k, 0), indents[i]):]
	}
	return out, indents
}

// unindent joins a code block's lines, removing up to n leading spaces from
// each, as CommonMark does for a fence indented by n.
func unindent(lines []string, n int) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		ind := len(l) - len(strings.TrimLeft(l, " "))
		out[i] = l[min(n, ind):]
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n ")
}

// fence is an open code fence: ``` or ~~~, at least three, and a language.
type fence struct {
	char   byte
	n      int
	indent int
	lang   string
}

// openFence reports whether l opens a fenced code block.
func openFence(l string) (fence, bool) {
	t := strings.TrimLeft(l, " ")
	if len(t) < 3 || (t[0] != '`' && t[0] != '~') {
		return fence{}, false
	}
	f := fence{char: t[0], indent: len(l) - len(t)}
	for f.n < len(t) && t[f.n] == f.char {
		f.n++
	}
	info := strings.TrimSpace(t[f.n:])
	if f.n < 3 || (f.char == '`' && strings.Contains(info, "`")) {
		return fence{}, false
	}
	if fields := strings.Fields(info); len(fields) > 0 {
		f.lang = strings.ToLower(strings.Trim(fields[0], "{}."))
	}
	return f, true
}

// closes reports whether l closes the fence f.
func (f fence) closes(l string) bool {
	t := strings.TrimSpace(l)
	return len(t) >= f.n && strings.Trim(t, string(f.char)) == ""
}
