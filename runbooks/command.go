package runbooks

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
)

const lintUsage = `usage: incidentbot runbooks lint [DIR]

Checks the runbook files (*.md) in DIR and its sub-folders, or the built-in
runbooks when DIR is not given, and how Slack would show each one. Prints
one "file:line: problem" line per problem on stdout, or "ok: N runbooks in
DIR". Exit status: 0 when every file is valid, 1 when there are problems,
2 for a usage error. Ctrl-C stops it.
`

// LintCommand runs "incidentbot runbooks lint [DIR]"; args are the words
// after "lint", check (may be nil) how a consumer shows each runbook. It
// returns the exit status: 0 when the runbooks are valid (printing "ok: N
// runbooks in DIR"), 1 with the problems on stdout (also when ctx ends
// first), 2 for a usage error.
func LintCommand(ctx context.Context, args []string, stdout, stderr io.Writer, check Check) int {
	var dir string
	switch {
	case len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		fmt.Fprint(stdout, lintUsage)
		return 0
	case len(args) > 1:
		fmt.Fprintf(stderr, "incidentbot runbooks lint: want at most one directory, got %d arguments\n\n%s", len(args), lintUsage)
		return 2
	case len(args) == 1 && len(args[0]) > 1 && args[0][0] == '-':
		fmt.Fprintf(stderr, "incidentbot runbooks lint: unknown flag %s\n\n%s", quoteName(args[0]), lintUsage)
		return 2
	case len(args) == 1:
		dir = args[0]
	}

	var (
		n     int
		probs []Problem
		name  = "builtin"
	)
	if dir == "" {
		n, probs = lint(ctx, builtinFS, "builtin", func(name string) string { return path.Join("builtin", name) }, check)
	} else {
		name = dir
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			fmt.Fprintf(stderr, "incidentbot runbooks lint: %s is not a directory\n", quoteName(dir))
			return 2
		}
		n, probs = lint(ctx, dirFS(dir), ".", displayUnder(dir), check)
	}
	for _, p := range probs {
		fmt.Fprintln(stdout, p)
	}
	if len(probs) > 0 {
		return 1
	}
	fmt.Fprintf(stdout, "ok: %d runbooks in %s\n", n, quoteName(name))
	return 0
}
