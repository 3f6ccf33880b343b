package runbooks

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// advise returns the advisory problems of a runbook that loads: variables
// that stay empty or are never used, variables its code uses that nothing
// sets, and what check finds in how a consumer shows it.
func advise(rb *runbook, check Check) []Problem {
	at := func(line int, format string, args ...any) Problem {
		return Problem{File: rb.Source, Line: max(line, 1), Msg: fmt.Sprintf(format, args...), Advisory: true}
	}
	stepLine := func(n int) int {
		if n >= 1 && n <= len(rb.stepLines) {
			return rb.stepLines[n-1]
		}
		return rb.nameLine
	}
	var probs []Problem
	sources := append([]string{rb.Intro}, stepMarkdown(rb.Steps)...)
	used := map[string]int{} // variable -> first step (0: intro) that uses it
	for i, md := range sources {
		for _, name := range varRefs(md) {
			if _, ok := used[name]; !ok {
				used[name] = i
			}
		}
	}
	declared := map[string]bool{}
	for _, v := range rb.Vars {
		declared[v.Name] = true
		line := rb.varLines[v.Name]
		if val := sampleFill(v); !val.Filled {
			probs = append(probs, at(line, "vars: %s stays empty even for an alert with %s: %s", v.Name, orText(strings.Join(bot.VarSources(v), " and "), "every label it reads"), val.Note))
		}
		if _, ok := used[v.Name]; !ok {
			probs = append(probs, at(line, "vars: %s is declared but no step uses $%s", v.Name, v.Name))
		}
	}
	set := assigned(sources)
	var undeclared []string
	for i, md := range sources {
		for _, name := range codeVarRefs(md) {
			if declared[name] || set[name] || environment[name] || slices.Contains(undeclared, name) {
				continue
			}
			undeclared = append(undeclared, name)
			where := "the intro"
			line := rb.nameLine
			if i > 0 {
				where, line = fmt.Sprintf("step %d", i), stepLine(i)
			}
			probs = append(probs, at(line, "%s uses $%s, which no template in vars fills and no command of the runbook sets", where, name))
		}
	}
	if check != nil {
		for _, f := range check(rb.copy()) {
			probs = append(probs, at(stepLine(f.Step), "%s", f.Msg))
		}
	}
	return probs
}

func stepMarkdown(steps []bot.RunbookStep) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Markdown
	}
	return out
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sampleFill fills a variable from an alert that has every label and
// annotation its template reads, so that only a template that can never
// give a value comes back unfilled.
func sampleFill(v bot.RunbookVar) bot.VarValue {
	a := bot.Alert{Status: bot.AlertFiring, Labels: map[string]string{}, Annotations: map[string]string{}}
	inc := &bot.Incident{ID: 1, Title: "sample", Severity: bot.SEV2, Status: bot.StatusInvestigating, GroupLabels: map[string]string{}}
	for _, src := range bot.VarSources(v) {
		kind, name, _ := strings.Cut(src, " ")
		switch kind {
		case "label":
			a.Labels[name] = "sample-1"
		case "annotation":
			a.Annotations[name] = "sample-1"
		default: // group label
			_, name, _ = strings.Cut(name, " ")
			inc.GroupLabels[name] = "sample-1"
		}
	}
	inc.Alerts = []bot.Alert{a}
	return bot.FillVars(bot.Runbook{Vars: []bot.RunbookVar{v}}, inc)[0]
}

var (
	varRefRE = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))`)
	// assignRE finds shell assignments and loop or read variables.
	assignRE = regexp.MustCompile(`(?:^|[\s;&|(])(?:(?:export|local|readonly|declare)\s+)?([A-Z][A-Z0-9_]*)=|\bfor\s+([A-Z][A-Z0-9_]*)\s+in\b|\bread\s+(?:-\w+\s+)*([A-Z][A-Z0-9_]*)`)
)

// environment lists variables a shell already has.
var environment = map[string]bool{"HOME": true, "PATH": true, "USER": true, "PWD": true, "SHELL": true, "TMPDIR": true,
	"KUBECONFIG": true, "EDITOR": true, "HOSTNAME": true, "LANG": true, "TERM": true, "RANDOM": true, "SECONDS": true}

// varRefs lists the $NAME and ${NAME} in Markdown, anywhere.
func varRefs(md string) []string {
	var out []string
	for _, m := range varRefRE.FindAllStringSubmatch(md, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}

// codeVarRefs lists the $NAME in capitals inside code (blocks and spans),
// where a reader pastes them.
func codeVarRefs(md string) []string {
	var out []string
	for _, c := range codeOf(md) {
		for _, name := range varRefs(c) {
			if name == strings.ToUpper(name) && len(name) > 1 && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// assigned is every variable a command of the runbook sets.
func assigned(sources []string) map[string]bool {
	set := map[string]bool{}
	for _, md := range sources {
		for _, c := range codeOf(md) {
			for _, m := range assignRE.FindAllStringSubmatch(c, -1) {
				set[m[1]+m[2]+m[3]] = true
			}
		}
	}
	return set
}

// codeOf returns the text of the code blocks and code spans in md.
func codeOf(md string) []string {
	src := []byte(md)
	var out []string
	_ = ast.Walk(markdown.Parser().Parse(text.NewReader(src)), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n.Kind() {
		case ast.KindFencedCodeBlock, ast.KindCodeBlock:
			var b strings.Builder
			for i := 0; i < n.Lines().Len(); i++ {
				seg := n.Lines().At(i)
				b.Write(seg.Value(src))
			}
			out = append(out, b.String())
			return ast.WalkSkipChildren, nil
		case ast.KindCodeSpan:
			var b strings.Builder
			for c := n.FirstChild(); c != nil; c = c.NextSibling() {
				if t, ok := c.(*ast.Text); ok {
					b.Write(t.Segment.Value(src))
				}
			}
			out = append(out, b.String())
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return out
}
