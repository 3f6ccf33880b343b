package runbooks

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/prometheus/alertmanager/pkg/labels"
	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds a runbook file: a checklist for a human is never near
// it, and the parser's work stays bounded on hostile input.
const maxFileSize = 1 << 20

// runbook is one parsed file: the checklist the bot posts plus what selects it.
type runbook struct {
	bot.Runbook
	// sets are ORed; the matchers within a set are ANDed.
	sets     [][]*labels.Matcher
	urls     []string
	severity bot.Severity
	nameLine int
	// stepLines and varLines are where steps and variables are written,
	// for problems found after parsing.
	stepLines []int
	varLines  map[string]int
	// profileSteps are the step numbers profile_steps names, and the line
	// of that key.
	profileSteps     []int
	profileStepsLine int
}

var (
	slugRE     = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// yamlParserProblems are the messages of the YAML library's parser stage,
// whose line numbers count from 0 where its scanner's count from 1.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// yamlBreaks are the line breaks YAML knows beyond "\n" and "\r".
var yamlBreaks = strings.NewReplacer("\u0085", " ", "\u2028", " ", "\u2029", " ")

// knownKeys lists the front matter keys, in the order problems name them.
var knownKeys = []string{"name", "title", "match", "severity", "runbook_urls", "vars", "profile_steps"}

// parse reads one runbook file. file names it in problems. The runbook is
// usable only when no problems come back; parse never panics.
func parse(file string, data []byte) (*runbook, []Problem) {
	rb := &runbook{}
	rb.Source = file
	at := func(line int, format string, args ...any) Problem {
		return Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) > maxFileSize {
		return rb, []Problem{at(1, "file is larger than %d bytes", maxFileSize)}
	}
	if !utf8.Valid(data) {
		line := len(splitLines(string(data[:invalidUTF8(data)]) + "x"))
		return rb, []Problem{at(line, "file is not valid UTF-8")}
	}
	lines := splitLines(string(data))
	if len(lines) == 0 || strings.TrimRight(lines[0], " ") != "---" {
		return rb, []Problem{at(1, `missing front matter: the file must start with a "---" line`)}
	}
	end := -1
	for i := 1; i < len(lines); i++ {
		if t := strings.TrimRight(lines[i], " "); t == "---" || t == "..." {
			end = i
			break
		}
	}
	if end < 0 {
		return rb, []Problem{at(1, `front matter is not closed: no "---" line after line 1`)}
	}
	// YAML also breaks lines at NEL, LS and PS; as spaces they keep its
	// line numbers those of the file.
	src := yamlBreaks.Replace(strings.Join(lines[1:end], "\n"))
	probs := rb.decodeFrontMatter(src, func(line int, format string, args ...any) Problem {
		return at(min(max(line, 1), end+1), format, args...)
	})
	bodyLine := end + 2 // 1-based number of the first line after the closing ---
	intro, steps, stepLines, bodyProbs := parseBody(lines[end+1:], bodyLine, at)
	rb.Intro, rb.Steps, rb.stepLines = intro, steps, stepLines
	probs = append(probs, bodyProbs...)
	probs = append(probs, rb.markProfileSteps(at)...)
	if len(steps) == 0 {
		probs = append(probs, at(min(bodyLine, len(lines)), `no steps: write them as a numbered list ("1. Check ...")`))
	}
	return rb, probs
}

// decodeFrontMatter fills rb from the YAML between the --- lines. YAML line
// n is line n+1 of the file.
func (rb *runbook) decodeFrontMatter(src string, at func(int, string, ...any) Problem) (probs []Problem) {
	var doc yaml.Node
	if err := unmarshalYAML(src, &doc); err != nil {
		line, msg := 2, err.Error()
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			line, msg = n+1, m[2]
			if yamlParserProblems[msg] {
				line++ // the YAML parser (not its scanner) counts lines from 0
			}
		}
		return []Problem{at(line, "front matter: %s", strings.TrimPrefix(msg, "yaml: "))}
	}
	var m *yaml.Node
	switch {
	case doc.Kind == 0:
		m = &yaml.Node{Kind: yaml.MappingNode} // empty front matter: report what is missing
	case doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode:
		m = doc.Content[0]
	default:
		return []Problem{at(2, "front matter must be a YAML mapping (name: ..., title: ..., match: ...)")}
	}
	seen := map[string]int{} // key -> line
	bad := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		line := k.Line + 1
		if k.Kind != yaml.ScalarNode {
			probs = append(probs, at(line, "front matter keys must be plain words"))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			probs = append(probs, at(line, "duplicate key %q (first at line %d)", k.Value, first))
			continue
		}
		seen[k.Value] = line
		ps, err := rb.decodeKey(k.Value, v, line, at)
		probs = append(probs, ps...)
		if err != nil {
			probs = append(probs, at(line, "%s: %v", k.Value, err))
			bad[k.Value] = true
		}
	}
	if rb.Name == "" && !bad["name"] {
		probs = append(probs, at(or(seen["name"], 1), "name is required (a lowercase slug, like memory-leak)"))
	}
	if rb.Title == "" && !bad["title"] {
		probs = append(probs, at(or(seen["title"], 1), "title is required"))
	}
	if _, ok := seen["match"]; !ok && len(rb.urls) == 0 && !bad["runbook_urls"] {
		probs = append(probs, at(1, "match is required unless runbook_urls is given"))
	}
	return probs
}

// decodeKey reads one front matter key. An error is a problem with the
// key's value as a whole; the problems come from match's items.
func (rb *runbook) decodeKey(key string, v *yaml.Node, line int, at func(int, string, ...any) Problem) (probs []Problem, err error) {
	switch key {
	case "name":
		rb.Name, err = scalar(v)
		rb.nameLine = line
		if err == nil && rb.Name != "" && !slugRE.MatchString(rb.Name) {
			err = fmt.Errorf("%q is not a lowercase slug (a-z, 0-9 and single dashes, like memory-leak)", rb.Name)
		}
	case "title":
		rb.Title, err = scalar(v)
		rb.Title = strings.TrimSpace(rb.Title)
	case "match":
		probs = rb.decodeMatch(v, line, at)
	case "severity":
		var s string
		if s, err = scalar(v); err == nil {
			if rb.severity, err = bot.ParseSeverity(s); err != nil {
				err = fmt.Errorf("%q: want SEV1, SEV2, SEV3 or SEV4", s)
			}
		}
	case "runbook_urls":
		rb.urls, err = stringList(v)
		for _, u := range rb.urls {
			if strings.TrimSpace(u) == "" {
				err = fmt.Errorf("empty entry would match every runbook_url")
			}
		}
	case "vars":
		probs = rb.decodeVars(v, line, at)
	case "profile_steps":
		rb.profileStepsLine = line
		rb.profileSteps, err = intList(v)
	default:
		err = fmt.Errorf("unknown key (want one of %s)", strings.Join(knownKeys, ", "))
	}
	return probs, err
}

// decodeVars reads vars: a mapping of variable names to templates over
// the incident's alerts, {NS: '{{ .Labels.namespace }}', ...}.
func (rb *runbook) decodeVars(v *yaml.Node, keyLine int, at func(int, string, ...any) Problem) (probs []Problem) {
	if v.Kind != yaml.MappingNode {
		return []Problem{at(keyLine, "vars: must be a mapping of names to templates, like NS: '{{ .Labels.namespace }}'")}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, t := v.Content[i], v.Content[i+1]
		line := k.Line + 1
		name, err1 := scalar(k)
		src, err2 := scalar(t)
		switch {
		case err1 != nil || err2 != nil:
			probs = append(probs, at(line, "vars: each variable is a name and a template string"))
			continue
		case seen[name]:
			probs = append(probs, at(line, "vars: %s is declared twice", name))
			continue
		}
		seen[name] = true
		if _, err := bot.ParseRunbookVar(name, src); err != nil {
			probs = append(probs, at(line, "vars: %s", strings.TrimPrefix(err.Error(), bot.ErrInvalid.Error()+": ")))
			continue
		}
		rb.Vars = append(rb.Vars, bot.RunbookVar{Name: name, Template: src})
		if rb.varLines == nil {
			rb.varLines = map[string]int{}
		}
		rb.varLines[name] = line
	}
	return probs
}

// decodeMatch reads match: one matcher set, or a list of them (ORed).
func (rb *runbook) decodeMatch(v *yaml.Node, keyLine int, at func(int, string, ...any) Problem) (probs []Problem) {
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
		if len(items) == 0 {
			return []Problem{at(keyLine, "match: empty list matches nothing")}
		}
	}
	for _, item := range items {
		line := keyLine
		if item != v {
			line = item.Line + 1
		}
		s, err := scalar(item)
		if err != nil {
			probs = append(probs, at(line, `match: must be a matcher string or a list of them (quote one that starts with "{")`))
			continue
		}
		ms, err := parseMatchers(s)
		if err != nil {
			probs = append(probs, at(line, "match: %q: %v", s, err))
			continue
		}
		rb.sets = append(rb.sets, ms)
	}
	return probs
}

// parseMatchers parses one matcher set with Alertmanager's own parser and
// refuses an empty set, which would match every alert.
func parseMatchers(s string) (ms []*labels.Matcher, err error) {
	defer func() {
		if r := recover(); r != nil { // a third-party parser on outside input
			ms, err = nil, fmt.Errorf("matcher parser failed: %v", r)
		}
	}()
	ms, err = labels.ParseMatchers(s)
	if err == nil && len(ms) == 0 {
		err = fmt.Errorf("empty matcher set would match every alert")
	}
	return ms, err
}

// unmarshalYAML decodes src, turning a panic in the YAML library into an
// error: the input comes from outside.
func unmarshalYAML(src string, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return yaml.Unmarshal([]byte(src), n)
}

// scalar returns a YAML scalar's text; null is the empty string.
func scalar(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("must be a string")
	}
	if n.Tag == "!!null" {
		return "", nil
	}
	return n.Value, nil
}

// intList accepts a list of whole numbers, like [5, 6].
func intList(n *yaml.Node) ([]int, error) {
	bad := fmt.Errorf("must be a list of step numbers, like [5]")
	if n.Kind != yaml.SequenceNode {
		return nil, bad
	}
	out := make([]int, 0, len(n.Content))
	for _, c := range n.Content {
		i, err := strconv.Atoi(c.Value)
		if c.Kind != yaml.ScalarNode || err != nil {
			return nil, bad
		}
		out = append(out, i)
	}
	return out, nil
}

// markProfileSteps marks the steps profile_steps names as profiling steps
// (the checklist shows the bot's heap-profile captures on them, and the
// bot ticks them once it has diffed two), and reports numbers that name
// no step or repeat.
func (rb *runbook) markProfileSteps(at func(int, string, ...any) Problem) (probs []Problem) {
	seen := map[int]bool{}
	for _, n := range rb.profileSteps {
		switch {
		case n < 1 || n > len(rb.Steps):
			probs = append(probs, at(rb.profileStepsLine, "profile_steps: %d is not a step of this runbook (it has %d)", n, len(rb.Steps)))
		case seen[n]:
			probs = append(probs, at(rb.profileStepsLine, "profile_steps: step %d is named twice", n))
		default:
			rb.Steps[n-1].Profile = true
		}
		seen[n] = true
	}
	return probs
}

// stringList accepts a string or a list of strings.
func stringList(n *yaml.Node) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		s, err := scalar(n)
		return []string{s}, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("must be a list of strings")
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, err := scalar(c)
		if err != nil {
			return nil, fmt.Errorf("must be a list of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

// splitLines splits a file into lines at "\n", "\r\n" or a lone "\r", as
// Markdown and YAML do, drops a byte order mark, and expands leading tabs
// so indentation compares simply.
func splitLines(s string) []string {
	s = strings.TrimPrefix(s, "\uFEFF")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "\t") {
			j := len(l) - len(strings.TrimLeft(l, "\t"))
			l = strings.Repeat("    ", j) + l[j:]
		}
		lines[i] = l
	}
	return lines
}

// invalidUTF8 returns the offset of the first byte that is not valid UTF-8.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func or(n, def int) int {
	if n != 0 {
		return n
	}
	return def
}
