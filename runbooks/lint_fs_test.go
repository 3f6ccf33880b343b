package runbooks

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

const diskFull = "---\nname: disk-full\ntitle: Disk full\nmatch: alertname=\"DiskFull\"\n---\n1. df -h\n"

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lintDir runs the lint command on dir with a deadline: a FIFO that were
// opened would block it in a system call, which no deadline ends, and the
// test would hang instead of failing.
func lintDir(t *testing.T, dir string, check Check) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := LintCommand(ctx, []string{dir}, &stdout, &stderr, check)
	if stderr.Len() > 0 {
		t.Errorf("stderr: %q", stderr.String())
	}
	return code, stdout.String()
}

func TestLintSubfolders(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "disk-full.md"), diskFull)
	writeFile(t, filepath.Join(dir, "payments", "lag.md"), strings.ReplaceAll(diskFull, "disk-full", "payments-lag"))
	writeFile(t, filepath.Join(dir, "payments", "eu", "broken.md"), "# no front matter\n")
	writeFile(t, filepath.Join(dir, "_drafts", "half.md"), "not checked")
	writeFile(t, filepath.Join(dir, ".git", "x.md"), "not checked")
	code, out := lintDir(t, dir, nil)
	want := filepath.Join(dir, "payments", "eu", "broken.md") + `:1: missing front matter: the file must start with a "---" line` + "\n"
	if code != 1 || out != want {
		t.Errorf("lint with a broken file two folders down = %d %q, want 1 %q", code, out, want)
	}
	os.Remove(filepath.Join(dir, "payments", "eu", "broken.md"))
	if code, out := lintDir(t, dir, nil); code != 0 || out != "ok: 2 runbooks in "+dir+"\n" {
		t.Errorf("lint of a good tree = %d %q, want 0 and ok: 2 runbooks", code, out)
	}
	set, err := LoadDir(context.Background(), dir)
	if err != nil || set.Len() != 2 {
		t.Fatalf("LoadDir = %v, %v; want the two runbooks", set, err)
	}
	if rb, _ := set.Get("payments-lag"); rb.Source != filepath.Join(dir, "payments", "lag.md") {
		t.Errorf("Source %q", rb.Source)
	}
}

// TestLintSpecialFiles puts a FIFO, a socket, a device and links to them
// where runbooks go: each is a problem, none is opened for reading, and
// lint returns well within its one-second deadline.
func TestLintSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "disk-full.md"), diskFull)
	if err := syscall.Mkfifo(filepath.Join(dir, "x.md"), 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	sock, err := net.Listen("unix", filepath.Join(dir, "s.md"))
	if err == nil {
		defer sock.Close()
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("x.md", filepath.Join(dir, "link-to-fifo.md")))
	must(os.Symlink("/dev/null", filepath.Join(dir, "device.md")))
	code, out := lintDir(t, dir, nil)
	want := []string{
		filepath.Join(dir, "device.md") + ": not a regular file",
		filepath.Join(dir, "link-to-fifo.md") + ": not a regular file",
	}
	if sock != nil {
		want = append(want, filepath.Join(dir, "s.md")+": not a regular file")
	}
	want = append(want, filepath.Join(dir, "x.md")+": not a regular file")
	if code != 1 || out != strings.Join(want, "\n")+"\n" {
		t.Errorf("lint = %d\n%s\nwant 1\n%s", code, out, strings.Join(want, "\n"))
	}
	if _, err := LoadDir(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "x.md: not a regular file") {
		t.Errorf("LoadDir with a FIFO: %v, want it refused", err)
	}
}

// TestLintControlCharacters names files with an ANSI escape, a newline
// that would forge a "file:line:" line in CI output, and a right-to-left
// override: each name is printed quoted, one problem a line.
func TestLintControlCharacters(t *testing.T) {
	dir := t.TempDir()
	names := []string{"red\x1b[31m.md", "a.md:1: all good\nb.md", "evil\u202egnp.md"}
	for _, n := range names {
		writeFile(t, filepath.Join(dir, n), "# no front matter\n")
	}
	code, out := lintDir(t, dir, nil)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 1 || len(lines) != len(names) {
		t.Fatalf("lint = %d, %d lines, want 1 and %d:\n%s", code, len(lines), len(names), out)
	}
	if strings.ContainsAny(out, "\x1b\u202e") {
		t.Errorf("raw control characters reached the output: %q", out)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `"`) || !strings.Contains(l, `":1: missing front matter`) {
			t.Errorf("line %q: want a quoted file name, then :1: and the problem", l)
		}
	}
	if !strings.Contains(out, `\x1b[31m.md":1:`) || !strings.Contains(out, `a.md:1: all good\nb.md":1:`) || !strings.Contains(out, `evil\u202egnp.md":1:`) {
		t.Errorf("names not quoted as %%q does:\n%s", out)
	}
}

func TestLintStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "disk-full.md"), diskFull)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	if code := LintCommand(ctx, []string{dir}, &stdout, &stderr, nil); code != 1 || !strings.Contains(stdout.String(), "stopped: context canceled") {
		t.Errorf("lint after Ctrl-C = %d %q, want 1 and stopped", code, stdout.String())
	}
	if _, err := LoadDir(ctx, dir); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("LoadDir after Ctrl-C: %v, want it stopped", err)
	}
}

// TestLintAdvice checks the advisory problems: variables that stay
// empty, are never used, or that steps use but nothing sets, and what a
// Check finds; they fail lint but the runbook still loads.
func TestLintAdvice(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lag.md"), `---
name: lag
title: Lag
match: alertname="Lag"
vars:
  NS: '{{ .Labels.namespace }}'
  NEVER: '{{ if .Labels.x }}{{ end }}'
  UNUSED: '{{ .Labels.job }}'
---

1. Look at the consumer.

    `+"```sh"+`
    kubectl -n "$NS" get pods
    GROUP=orders
    kafka-consumer-groups --describe --group "$GROUP" --bootstrap-server "$BROKER"
    echo "$NEVER" "$HOME"
    `+"```"+`

2. Restart it.
`)
	check := func(rb bot.Runbook) []Finding {
		return []Finding{{Step: 2, Msg: "checked " + rb.Name}}
	}
	code, out := lintDir(t, dir, check)
	f := filepath.Join(dir, "lag.md")
	want := f + ":7: vars: NEVER stays empty even for an alert with label x: no alert has label x\n" +
		f + ":8: vars: UNUSED is declared but no step uses $UNUSED\n" +
		f + ":11: step 1 uses $BROKER, which no template in vars fills and no command of the runbook sets\n" +
		f + ":20: checked lag\n"
	if code != 1 || out != want {
		t.Errorf("lint = %d\n%s\nwant 1\n%s", code, out, want)
	}
	if set, err := LoadDir(context.Background(), dir); err != nil || set.Len() != 1 {
		t.Errorf("LoadDir = %v, %v; advice must not keep a runbook from loading", set, err)
	}
}
