package bot

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
)

// RunbookVar is a variable a runbook's steps use as $NAME (or ${NAME}):
// Template, a Go text/template over the incident's alerts, says how to
// fill it, e.g. '{{ .Labels.namespace }}'.
type RunbookVar struct {
	Name     string `json:"name"`
	Template string `json:"template"`
}

// VarValue is a runbook variable filled in for one incident.
type VarValue struct {
	Name string
	// Value is set when Filled.
	Value  string
	Filled bool
	// Note says, when not Filled, what would fill it: "label namespace",
	// or why the value found was not used.
	Note string
}

// Bounds on variable templates: a value names a namespace, a pod, a
// selector, never a paragraph.
const (
	maxVarTemplate = 1000
	maxVarValue    = 253 // a DNS name, the longest thing a label value usually names
)

var varNameRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// safeValueRE is what a filled value may hold: characters that mean
// nothing to a shell, to PromQL inside quotes, or to Slack's mrkdwn. A
// label value is data: it must not end a code block, mention @channel, or
// run a command when an engineer pastes the step.
var safeValueRE = regexp.MustCompile(`^[A-Za-z0-9._:/=,@+-]+$`)

var varFuncs = template.FuncMap{
	// default returns def when s is empty: {{ .Labels.container | default .Labels.service }}.
	"default":    func(def, s string) string { return orDefault(s, def) },
	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"trim":       strings.TrimSpace,
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	// before cuts at the first sep: {{ .Labels.instance | before ":" }} is the host.
	"before": func(sep, s string) string { b, _, _ := strings.Cut(s, sep); return b },
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ParseRunbookVar checks a variable's name and template. A template is one
// expression: it may use if and with, but not range, define or template,
// so that filling it takes time in proportion to its length. Errors wrap
// ErrInvalid.
func ParseRunbookVar(name, src string) (*template.Template, error) {
	if !varNameRE.MatchString(name) {
		return nil, fmt.Errorf("%w: variable %q: want capitals, digits and _, like NS", ErrInvalid, name)
	}
	if len(src) > maxVarTemplate {
		return nil, fmt.Errorf("%w: variable %s: template longer than %d bytes", ErrInvalid, name, maxVarTemplate)
	}
	t, err := template.New(name).Funcs(varFuncs).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%w: variable %s: %s", ErrInvalid, name, strings.TrimPrefix(err.Error(), "template: "))
	}
	if len(t.Templates()) > 1 {
		return nil, fmt.Errorf("%w: variable %s: define and block are not allowed", ErrInvalid, name)
	}
	if bad := forbidden(t.Tree.Root); bad != "" {
		return nil, fmt.Errorf("%w: variable %s: %s is not allowed (a variable is one value)", ErrInvalid, name, bad)
	}
	return t, nil
}

// forbidden names a node that could make filling a template slow.
func forbidden(n parse.Node) string {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return ""
		}
		for _, c := range n.Nodes {
			if s := forbidden(c); s != "" {
				return s
			}
		}
	case *parse.RangeNode:
		return "range"
	case *parse.TemplateNode:
		return "template"
	case *parse.IfNode:
		return cmp2(forbidden(n.List), forbidden(n.ElseList))
	case *parse.WithNode:
		return cmp2(forbidden(n.List), forbidden(n.ElseList))
	}
	return ""
}

func cmp2(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// VarSources lists what a variable's template reads, for a note when the
// alerts leave it empty: "label namespace", "annotation summary".
func VarSources(v RunbookVar) []string {
	t, err := ParseRunbookVar(v.Name, v.Template)
	if err != nil {
		return nil
	}
	var out []string
	add := func(kind, name string) {
		if s := kind + " " + name; !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	field := func(idents []string) {
		if len(idents) >= 2 {
			switch idents[0] {
			case "Labels":
				add("label", idents[1])
			case "Annotations":
				add("annotation", idents[1])
			case "GroupLabels":
				add("group label", idents[1])
			}
		}
	}
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c)
				}
			}
		case *parse.CommandNode:
			if len(n.Args) == 3 {
				if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "index" {
					f, ok1 := n.Args[1].(*parse.FieldNode)
					s, ok2 := n.Args[2].(*parse.StringNode)
					if ok1 && ok2 && len(f.Ident) == 1 {
						field([]string{f.Ident[0], s.Text})
					}
				}
			}
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			field(n.Ident)
		}
	}
	walk(t.Tree.Root)
	return out
}

// varData is what a variable's template sees: one alert's labels and
// annotations, the group's labels, and the incident.
type varData struct {
	Labels      map[string]string
	Annotations map[string]string
	GroupLabels map[string]string
	Incident    varIncident
}

type varIncident struct {
	ID                           int64
	Key, Title, Severity, Status string
}

// FillVars fills the runbook's variables for inc from one of its alerts:
// the firing alert (a resolved one when none fires) that fills the most, so that all
// values describe the same thing. A variable stays unfilled, with a Note,
// when its template fails, gives nothing, or gives a value that is too
// long, holds anything but letters, digits and ._:/=,@+-, or starts with -
// (a label value is never pasted into a shell or a message as markup, nor
// as an option of a command).
func FillVars(rb Runbook, inc *Incident) []VarValue {
	if len(rb.Vars) == 0 {
		return nil
	}
	base := varData{GroupLabels: inc.GroupLabels, Incident: varIncident{ID: inc.ID, Key: inc.Key(), Title: inc.Title,
		Severity: inc.Severity.String(), Status: string(inc.Status)}}
	var candidates []varData
	for _, firing := range []bool{true, false} {
		for _, a := range inc.Alerts {
			if (a.Status == AlertFiring) == firing {
				d := base
				d.Labels, d.Annotations = a.Labels, a.Annotations
				candidates = append(candidates, d)
			}
		}
		if len(candidates) > 0 {
			break // resolved alerts only when none fires
		}
	}
	if len(candidates) == 0 {
		candidates = []varData{base}
	}
	var best []VarValue
	bestN := -1
	for _, d := range candidates {
		vals, n := fillFrom(rb.Vars, d)
		if n > bestN {
			best, bestN = vals, n
		}
	}
	return best
}

func fillFrom(vars []RunbookVar, d varData) ([]VarValue, int) {
	out := make([]VarValue, 0, len(vars))
	n := 0
	for _, v := range vars {
		val := VarValue{Name: v.Name}
		s, err := execVar(v, d)
		s = strings.TrimSpace(s)
		switch {
		case err != nil:
			val.Note = err.Error()
		case s == "":
			val.Note = needs(v)
		case len(s) > maxVarValue:
			val.Note = fmt.Sprintf("the value found is longer than %d bytes", maxVarValue)
		case !safeValueRE.MatchString(s):
			val.Note = "the value found holds characters that are not safe to paste (only letters, digits and ._:/=,@+- are filled in)"
		case strings.HasPrefix(s, "-"):
			// A step may paste it where a command expects a name
			// (kubectl delete pod $POD): "--all" would be an option.
			val.Note = "the value found starts with -, which a command would read as an option"
		default:
			val.Value, val.Filled = s, true
			n++
		}
		out = append(out, val)
	}
	return out, n
}

// needs words what would fill an empty variable.
func needs(v RunbookVar) string {
	src := VarSources(v)
	if len(src) == 0 {
		return "its template gives nothing for this incident"
	}
	return "no alert has " + strings.Join(src, " or ")
}

var errVarTooLong = errors.New("the template's output is too long")

// limitWriter keeps a template from writing more than a value's worth.
type limitWriter struct {
	b strings.Builder
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > maxVarValue*4 {
		return 0, errVarTooLong
	}
	return w.b.Write(p)
}

func execVar(v RunbookVar, d varData) (s string, err error) {
	t, err := ParseRunbookVar(v.Name, v.Template)
	if err != nil {
		return "", err
	}
	defer func() {
		if r := recover(); r != nil { // a template function on odd input
			s, err = "", fmt.Errorf("template failed: %v", r)
		}
	}()
	var w limitWriter
	if err := t.Execute(&w, d); err != nil {
		if errors.Is(err, errVarTooLong) {
			return "", errVarTooLong
		}
		return "", fmt.Errorf("template failed: %s", strings.TrimPrefix(err.Error(), "template: "))
	}
	return w.b.String(), nil
}
