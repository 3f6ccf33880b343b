package runbooks

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/incidentbot/incidentbot/bot"
)

func TestBuiltin(t *testing.T) {
	if probs := Lint(context.Background(), builtinFS, "builtin", nil); len(probs) > 0 {
		t.Fatalf("Lint(builtin): %v, want no problems", probs)
	}
	all := Builtin().All()
	if got, want := names(all), []string{"high-error-rate", "high-latency", "memory-leak"}; !slices.Equal(got, want) {
		t.Fatalf("Builtin().All() = %v, want %v", got, want)
	}
	for _, rb := range all {
		if len(rb.Steps) < 6 {
			t.Errorf("built-in %s: %d steps, want at least 6", rb.Name, len(rb.Steps))
		}
		if rb.Source != "builtin:"+rb.Name || rb.Title == "" || rb.Intro == "" {
			t.Errorf("built-in %s: source %q, title %q, intro %d bytes; want builtin:%s and both set", rb.Name, rb.Source, rb.Title, len(rb.Intro), rb.Name)
		}
		var withQuery, withCommand int
		for _, st := range rb.Steps {
			if strings.Contains(st.Markdown, "```promql") {
				withQuery++
			}
			if strings.Contains(st.Markdown, "```sh") {
				withCommand++
			}
		}
		if withQuery < 3 || withCommand < 3 {
			t.Errorf("built-in %s: %d steps with a query, %d with a command; want at least 3 of each", rb.Name, withQuery, withCommand)
		}
	}
}

// TestBuiltinMemoryLeakOrder pins what the 2024 payment-gateway postmortem
// taught: traffic is ruled out and profiling starts within the first steps,
// before any restart.
func TestBuiltinMemoryLeakOrder(t *testing.T) {
	rb, ok := Builtin().Get("memory-leak")
	if !ok {
		t.Fatal(`Get("memory-leak"): not found`)
	}
	step := func(substr string) int {
		for _, st := range rb.Steps {
			if strings.Contains(st.Markdown, substr) {
				return st.N
			}
		}
		t.Fatalf("memory-leak: no step runs %q", substr)
		return 0
	}
	traffic, growth, profile, restart := step("offset 1w"), step("deriv("), step("pprof -top"), step("rollout restart")
	if !(traffic < growth && growth < profile && profile <= 5 && profile < restart) {
		t.Errorf("memory-leak: traffic check at step %d, growth rate %d, profiling %d, restart %d; want them in that order with profiling by step 5",
			traffic, growth, profile, restart)
	}
}

func TestLoadAndMerge(t *testing.T) {
	mine := fstest.MapFS{
		"ops/memory-leak.md": {Data: []byte("---\nname: memory-leak\ntitle: Our leak runbook\nmatch: alertname=\"MemoryLeak\"\n---\n1. Call Alice.\n")},
		"ops/disk-full.md":   {Data: []byte("---\nname: disk-full\ntitle: Disk full\nmatch: alertname=\"DiskFull\"\n---\n1. df -h\n")},
		"ops/README.md":      {Data: []byte("# not a runbook\n")},
		"ops/payments/x.md":  {Data: []byte("---\nname: payments-lag\ntitle: Payments lag\nmatch: alertname=\"PaymentsLag\"\n---\n1. Look.\n")},
		"ops/_drafts/y.md":   {Data: []byte("ignored: folders starting with _ are drafts")},
		"ops/.git/z.md":      {Data: []byte("ignored: hidden folders")},
	}
	extra, err := Load(mine, "ops")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	base := Builtin()
	merged := base.Merge(extra)

	tests := []struct {
		name      string
		set       *Set
		get       string
		wantTitle string
		wantOK    bool
		wantLen   int
	}{
		{name: "other overrides the same name", set: merged, get: "memory-leak", wantTitle: "Our leak runbook", wantOK: true, wantLen: 5},
		{name: "other adds", set: merged, get: "disk-full", wantTitle: "Disk full", wantOK: true, wantLen: 5},
		{name: "the rest stays", set: merged, get: "high-latency", wantTitle: "High latency: a service answers too slowly", wantOK: true, wantLen: 5},
		{name: "the receiver does not change", set: base, get: "memory-leak", wantTitle: "Memory leak: memory grows until pods are OOM-killed", wantOK: true, wantLen: 3},
		{name: "names are case-insensitive", set: merged, get: " Disk-Full ", wantTitle: "Disk full", wantOK: true, wantLen: 5},
		{name: "missing", set: merged, get: "nope", wantLen: 5},
		{name: "nil set", set: nil, get: "memory-leak", wantLen: 0},
		{name: "merge with nil", set: base.Merge(nil), get: "memory-leak", wantTitle: "Memory leak: memory grows until pods are OOM-killed", wantOK: true, wantLen: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb, ok := tt.set.Get(tt.get)
			if rb.Title != tt.wantTitle || ok != tt.wantOK || tt.set.Len() != tt.wantLen || len(tt.set.All()) != tt.wantLen {
				t.Errorf("Get(%q) = %q, %v; Len() = %d; want %q, %v; %d", tt.get, rb.Title, ok, tt.set.Len(), tt.wantTitle, tt.wantOK, tt.wantLen)
			}
		})
	}

	rb, _ := merged.Get("memory-leak")
	if rb.Source != "ops/memory-leak.md" {
		t.Errorf("overridden runbook: Source = %q, want ops/memory-leak.md", rb.Source)
	}
	rb.Steps[0].Text = "changed by a caller"
	if again, _ := merged.Get("memory-leak"); again.Steps[0].Text != "Call Alice." {
		t.Errorf("Get returned steps shared with the Set: after a change, Get gives %q", again.Steps[0].Text)
	}
	if got := names(merged.Match([]bot.Alert{alert("MemoryLeak")})); !slices.Equal(got, []string{"memory-leak"}) {
		t.Errorf("merged.Match(MemoryLeak) = %v, want [memory-leak]", got)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(fstest.MapFS{}, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf(`Load("missing"): error %v, want fs.ErrNotExist`, err)
	}
	set, err := Load(fstest.MapFS{"empty/README.md": {}}, "empty")
	if err != nil || set.Len() != 0 {
		t.Errorf("Load(empty dir) = %d runbooks, %v; want 0, nil", set.Len(), err)
	}

	_, err = Load(os.DirFS("testdata/lint"), "duplicate-name")
	var p Problem
	if !errors.As(err, &p) || p.String() != `duplicate-name/b.md:3: duplicate name "disk-full": duplicate-name/a.md already has it` {
		t.Errorf("Load(duplicate-name): error %v; errors.As Problem = %v", err, p)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("disk-full.md", "---\nname: disk-full\ntitle: Disk full\nmatch: alertname=\"DiskFull\"\n---\n1. df -h\n")
	set, err := LoadDir(context.Background(), dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if rb, _ := set.Get("disk-full"); rb.Source != filepath.Join(dir, "disk-full.md") {
		t.Errorf("LoadDir: Source = %q, want %q", rb.Source, filepath.Join(dir, "disk-full.md"))
	}

	write("broken.md", "# no front matter\n")
	_, err = LoadDir(context.Background(), dir)
	if want := filepath.Join(dir, "broken.md") + ":1: missing front matter"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("LoadDir with a broken file: error %v, want one containing %q", err, want)
	}
}
