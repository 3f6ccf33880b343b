package runbooks

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

const lintUsage = `usage: incidentbot runbooks lint [DIR]

Checks the runbook files (*.md) in DIR, or the built-in runbooks when DIR is
not given. Prints one "file:line: problem" line per problem on stdout.
Exit status: 0 when every file is valid, 1 when there are problems, 2 for a
usage error.
`

// LintCommand runs "incidentbot runbooks lint [DIR]"; args are the words
// after "lint". It returns the exit status: 0 when the runbooks are valid
// (printing nothing), 1 with the problems on stdout, 2 for a usage error.
func LintCommand(args []string, stdout, stderr io.Writer) int {
	var dir string
	switch {
	case len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		fmt.Fprint(stdout, lintUsage)
		return 0
	case len(args) > 1:
		fmt.Fprintf(stderr, "incidentbot runbooks lint: want at most one directory, got %d arguments\n\n%s", len(args), lintUsage)
		return 2
	case len(args) == 1 && len(args[0]) > 1 && args[0][0] == '-':
		fmt.Fprintf(stderr, "incidentbot runbooks lint: unknown flag %s\n\n%s", args[0], lintUsage)
		return 2
	case len(args) == 1:
		dir = args[0]
	}

	var probs []Problem
	if dir == "" {
		probs = Lint(builtinFS, "builtin")
	} else {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			fmt.Fprintf(stderr, "incidentbot runbooks lint: %s is not a directory\n", dir)
			return 2
		}
		probs = lint(os.DirFS(dir), ".", func(name string) string { return filepath.Join(dir, name) })
	}
	for _, p := range probs {
		fmt.Fprintln(stdout, p)
	}
	if len(probs) > 0 {
		return 1
	}
	return 0
}
