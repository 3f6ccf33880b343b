package runbooks

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	tests := []struct {
		name string // a directory under testdata/lint
		want []string
	}{
		{name: "valid"}, // README.md, _template.md and notes.txt are not runbooks
		{name: "no-front-matter", want: []string{
			`no-front-matter/runbook.md:1: missing front matter: the file must start with a "---" line`,
		}},
		{name: "unclosed-front-matter", want: []string{
			`unclosed-front-matter/runbook.md:1: front matter is not closed: no "---" line after line 1`,
		}},
		{name: "bad-yaml", want: []string{
			`bad-yaml/runbook.md:4: front matter: did not find expected ',' or ']'`,
		}},
		{name: "colon-in-title", want: []string{
			`colon-in-title/runbook.md:3: front matter: mapping values are not allowed in this context`,
		}},
		{name: "not-a-mapping", want: []string{
			`not-a-mapping/runbook.md:2: front matter must be a YAML mapping (name: ..., title: ..., match: ...)`,
		}},
		{name: "unknown-key", want: []string{
			`unknown-key/runbook.md:5: owner: unknown key (want one of name, title, match, severity, runbook_urls, vars, profile_steps)`,
		}},
		{name: "duplicate-key", want: []string{
			`duplicate-key/runbook.md:5: duplicate key "title" (first at line 3)`,
		}},
		{name: "missing-fields", want: []string{
			`missing-fields/runbook.md:1: name is required (a lowercase slug, like memory-leak)`,
			`missing-fields/runbook.md:1: title is required`,
			`missing-fields/runbook.md:1: match is required unless runbook_urls is given`,
		}},
		{name: "bad-name", want: []string{
			`bad-name/runbook.md:2: name: "Disk Full" is not a lowercase slug (a-z, 0-9 and single dashes, like memory-leak)`,
		}},
		{name: "bad-matcher", want: []string{
			"bad-matcher/runbook.md:4: match: \"alertname=~\\\"(DiskFull\\\"\": error parsing regexp: missing closing ): `^(?:(DiskFull)$`",
		}},
		{name: "bad-matcher-list", want: []string{
			`bad-matcher-list/runbook.md:6: match: "alertname DiskAlmostFull": bad matcher format: alertname DiskAlmostFull`,
		}},
		{name: "empty-matcher", want: []string{
			`empty-matcher/runbook.md:4: match: "": empty matcher set would match every alert`,
		}},
		{name: "match-mapping", want: []string{
			`match-mapping/runbook.md:4: match: must be a matcher string or a list of them (quote one that starts with "{")`,
		}},
		{name: "bad-severity", want: []string{
			`bad-severity/runbook.md:5: severity: "critical": want SEV1, SEV2, SEV3 or SEV4`,
		}},
		{name: "bad-runbook-urls", want: []string{
			`bad-runbook-urls/runbook.md:4: runbook_urls: must be a list of strings`,
		}},
		{name: "no-steps", want: []string{
			`no-steps/runbook.md:6: no steps: write them as a numbered list ("1. Check ...")`,
		}},
		{name: "numbering-gap", want: []string{
			`numbering-gap/runbook.md:9: step numbering gap: step 4 follows step 2, want 3`,
		}},
		{name: "numbering-start", want: []string{
			`numbering-start/runbook.md:7: first step is numbered 2, want 1`,
		}},
		{name: "numbering-repeat", want: []string{
			`numbering-repeat/runbook.md:8: step numbered 1 follows step 1, want 2`,
		}},
		{name: "empty-step", want: []string{
			`empty-step/runbook.md:8: step 2 has no text`,
		}},
		{name: "unclosed-fence", want: []string{
			`unclosed-fence/runbook.md:9: code fence opened here is never closed`,
		}},
		{name: "duplicate-name", want: []string{
			`duplicate-name/b.md:3: duplicate name "disk-full": duplicate-name/a.md already has it`,
		}},
		{name: "not-utf8", want: []string{
			`not-utf8/runbook.md:3: file is not valid UTF-8`,
		}},
		{name: "bad-profile-steps", want: []string{
			`bad-profile-steps/runbook.md:5: profile_steps: 3 is not a step of this runbook (it has 2)`,
			`bad-profile-steps/runbook.md:5: profile_steps: step 2 is named twice`,
		}},
		{name: "profile-steps-not-numbers", want: []string{
			`profile-steps-not-numbers/runbook.md:5: profile_steps: must be a list of step numbers, like [5]`,
		}},
		{name: "no-runbooks", want: []string{
			`no-runbooks: no runbook files (*.md) found`,
		}},
		{name: "missing-dir", want: []string{
			`missing-dir: runbook directory does not exist`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range Lint(context.Background(), os.DirFS("testdata/lint"), tt.name, nil) {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Lint(testdata/lint/%s)\n got %s\nwant %s", tt.name, strings.Join(got, "\n     "), strings.Join(tt.want, "\n     "))
			}
		})
	}
}

func TestLintCommand(t *testing.T) {
	broken := filepath.Join("testdata", "lint", "numbering-gap")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string // a substring; "" means stderr must be empty
	}{
		{name: "built-ins", args: nil, wantCode: 0, wantStdout: "ok: 3 runbooks in builtin\n"},
		{name: "valid dir", args: []string{filepath.Join("testdata", "lint", "valid")}, wantCode: 0,
			wantStdout: "ok: 1 runbooks in " + filepath.Join("testdata", "lint", "valid") + "\n"},
		{name: "broken dir", args: []string{broken}, wantCode: 1,
			wantStdout: filepath.Join(broken, "runbook.md") + ":9: step numbering gap: step 4 follows step 2, want 3\n"},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStdout: lintUsage},
		{name: "two dirs", args: []string{"a", "b"}, wantCode: 2, wantStderr: "want at most one directory"},
		{name: "unknown flag", args: []string{"--fix"}, wantCode: 2, wantStderr: "unknown flag --fix"},
		{name: "missing dir", args: []string{filepath.Join("testdata", "nope")}, wantCode: 2, wantStderr: "is not a directory"},
		{name: "a file", args: []string{filepath.Join("testdata", "lint", "valid", "disk-full.md")}, wantCode: 2, wantStderr: "is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := LintCommand(context.Background(), tt.args, &stdout, &stderr, nil)
			if code != tt.wantCode || stdout.String() != tt.wantStdout ||
				(tt.wantStderr == "") != (stderr.Len() == 0) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("LintCommand(%q) = %d\nstdout %q\nstderr %q\nwant %d, stdout %q, stderr containing %q",
					tt.args, code, stdout.String(), stderr.String(), tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{name: "with line", p: Problem{File: "a.md", Line: 3, Msg: "bad"}, want: "a.md:3: bad"},
		{name: "whole file", p: Problem{File: "a.md", Msg: "cannot read"}, want: "a.md: cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want || tt.p.Error() != tt.want {
				t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
			}
		})
	}
}
