package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunbooksFIFO puts a FIFO named x.md where runbooks go: lint reports
// it and serve refuses to start, naming it, instead of waiting forever
// for a writer. A deadline bounds both; the test would hang in a system
// call if either opened the FIFO.
func TestRunbooksFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "x.md"), 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"runbooks", "lint", dir}, func(string) string { return "" }, &stdout, &stderr)
	var code exitCode
	if !errors.As(err, &code) || code != 1 || stdout.String() != filepath.Join(dir, "x.md")+": not a regular file\n" {
		t.Errorf("lint: %v, stdout %q, stderr %q; want exit 1 and the FIFO named", err, stdout.String(), stderr.String())
	}

	env := map[string]string{"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"), "INCIDENTBOT_ADDR": "127.0.0.1:0",
		"INCIDENTBOT_RUNBOOKS": dir}
	stdout.Reset()
	err = run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "x.md: not a regular file") || strings.Contains(stdout.String(), "listening") {
		t.Errorf("serve: %v, stdout %q; want it refused before listening, naming the FIFO", err, stdout.String())
	}
}

// TestLintBuiltinsThroughRun checks the command as operators run it,
// with Slack's limits checked: the built-in runbooks pass.
func TestLintBuiltinsThroughRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"runbooks", "lint"}, os.Getenv, &stdout, &stderr); err != nil || stdout.String() != "ok: 3 runbooks in builtin\n" {
		t.Errorf("runbooks lint: %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
}

// TestLintChecksSlackLimits gives lint a runbook whose checklist would
// not fit in one Slack message.
func TestLintChecksSlackLimits(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("---\nname: long\ntitle: Long\nmatch: alertname=\"Long\"\n---\n\n")
	for i := 1; i <= 30; i++ {
		b.WriteString(itoa(i) + ". Do thing " + itoa(i) + ".\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "long.md"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"runbooks", "lint", dir}, os.Getenv, &stdout, &stderr)
	want := filepath.Join(dir, "long.md") + ":30: slack: the checklist needs more than Slack's 50 blocks a message: steps 24 to 30 would not show (shorten or split the runbook)\n"
	if err == nil || stdout.String() != want {
		t.Errorf("lint: %v\n got %q\nwant %q", err, stdout.String(), want)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
