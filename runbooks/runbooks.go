// Package runbooks reads runbook files and finds the ones that fit an
// incident's alerts.
//
// A runbook is one Markdown file. It starts with YAML front matter between
// "---" lines:
//
//	name: memory-leak            # required, a lowercase slug
//	title: Memory leak           # required
//	match: alertname=~"MemoryLeak|OOMKilled"
//	severity: SEV2               # optional hint
//	runbook_urls: [wiki.example/x/AbC]   # optional
//	vars:                        # optional: $NS, $APP in the steps, filled from the alerts
//	  NS: '{{ .Labels.namespace }}'
//	  APP: '{{ .Labels.container | default .Labels.service }}'
//
// match uses Alertmanager's matcher syntax on alert labels; it is one
// matcher set (comma-separated matchers, all of which must hold) or a list
// of them (any of which may hold). It may be left out when runbook_urls is
// given. A runbook also fits an alert whose runbook_url annotation names it:
// its last path element without extension, or its fragment, is the name
// (https://wiki.example/runbooks/memory-leak, .../memory-leak.md), or it
// contains one of runbook_urls.
//
// The body is Markdown (CommonMark with GitHub's tables, strikethrough,
// autolinks and task lists), read with a real parser: guidance, then the
// steps as a numbered list at the left margin ("1. Check ..."). Each step
// keeps its Markdown as written (code blocks, nested lists, links); its
// first paragraph is its text. Paragraphs between steps belong to the step
// before; headings between steps are left out of the checklist. Text
// before step 1 is the intro. Renderers (Slack, the web view, the draft)
// parse a step's Markdown themselves: it is the source of truth.
//
// The package embeds built-in runbooks (Builtin); operators add or override
// them with a directory of their own (LoadDir, Merge), checked by Lint.
package runbooks

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/incidentbot/incidentbot/bot"
)

// Set is an immutable collection of runbooks, safe for concurrent use. The
// nil *Set is empty.
type Set struct {
	byName map[string]*runbook
	names  []string // sorted
}

var _ bot.Runbooks = (*Set)(nil)

//go:embed builtin/*.md
var builtinFS embed.FS

var builtin = sync.OnceValue(func() *Set {
	s, err := Load(builtinFS, "builtin")
	if err != nil {
		panic("runbooks: the built-in runbooks do not load: " + err.Error())
	}
	for _, rb := range s.byName {
		rb.Source = "builtin:" + rb.Name
	}
	return s
})

// Builtin returns the runbooks that ship with incidentbot.
func Builtin() *Set { return builtin() }

// Load reads every runbook file under dir of fsys (see Lint for which
// files those are). Each runbook's Source is its path in fsys. Any problem
// Lint would report, except advisory ones, makes Load fail with an error
// that lists them all; each is a Problem, so errors.As finds the first. An
// empty directory is an empty Set.
func Load(fsys fs.FS, dir string) (*Set, error) {
	return load(context.Background(), fsys, dir, func(name string) string { return path.Join(dir, name) })
}

// LoadDir is Load for a directory on disk, as named by INCIDENTBOT_RUNBOOKS;
// Sources and problems carry operating system paths under dir. It reads
// only regular files, never blocking on a FIFO, and stops when ctx ends
// (Ctrl-C or SIGTERM during start-up).
func LoadDir(ctx context.Context, dir string) (*Set, error) {
	return load(ctx, dirFS(dir), ".", displayUnder(dir))
}

// displayUnder names a file under dir as the operating system would.
func displayUnder(dir string) func(string) string {
	return func(name string) string {
		if name == "" {
			return dir
		}
		return filepath.Join(dir, filepath.FromSlash(name))
	}
}

func load(ctx context.Context, fsys fs.FS, dir string, display func(string) string) (*Set, error) {
	rbs, probs, _, err := readDir(ctx, fsys, dir, display)
	if err != nil {
		return nil, err
	}
	if len(probs) > 0 {
		errs := make([]error, len(probs))
		for i, p := range probs {
			errs[i] = p
		}
		return nil, fmt.Errorf("%d runbook problem(s):\n%w", len(probs), errors.Join(errs...))
	}
	return newSet(rbs), nil
}

func newSet(rbs []*runbook) *Set {
	s := &Set{byName: make(map[string]*runbook, len(rbs))}
	for _, rb := range rbs {
		s.byName[rb.Name] = rb
	}
	for name := range s.byName {
		s.names = append(s.names, name)
	}
	slices.Sort(s.names)
	return s
}

// Merge returns a Set holding the runbooks of s and other; where both have a
// runbook of the same name, other's wins. Neither s nor other changes.
func (s *Set) Merge(other *Set) *Set {
	var rbs []*runbook
	for _, x := range []*Set{s, other} {
		if x != nil {
			for _, name := range x.names {
				rbs = append(rbs, x.byName[name])
			}
		}
	}
	return newSet(rbs) // later entries replace earlier ones of the same name
}

// Len returns the number of runbooks in s.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.names)
}

// Get returns the runbook with this name and whether it exists. The
// runbook is a copy the caller may change.
func (s *Set) Get(name string) (bot.Runbook, bool) {
	if s == nil {
		return bot.Runbook{}, false
	}
	rb, ok := s.byName[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return bot.Runbook{}, false
	}
	return rb.copy(), true
}

// All returns every runbook, sorted by name.
func (s *Set) All() []bot.Runbook {
	if s == nil {
		return nil
	}
	out := make([]bot.Runbook, 0, len(s.names))
	for _, name := range s.names {
		out = append(out, s.byName[name].copy())
	}
	return out
}

// Match returns the runbooks that select any of the alerts, by their match
// labels or by an alert's runbook_url annotation, sorted by name; each
// one's Reason says which alert and matcher selected it.
func (s *Set) Match(alerts []bot.Alert) []bot.Runbook {
	if s == nil {
		return nil
	}
	var out []bot.Runbook
	for _, name := range s.names {
		rb := s.byName[name]
		for _, a := range alerts {
			if why := rb.why(a); why != "" {
				r := rb.copy()
				r.Reason = why
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// copy returns the runbook with its own steps, so callers cannot change the Set.
func (rb *runbook) copy() bot.Runbook {
	r := rb.Runbook
	r.Steps = slices.Clone(r.Steps)
	r.Vars = slices.Clone(r.Vars)
	return r
}
