package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/incidentbot/incidentbot/runbooks"
)

// exitCode ends the process with a code and no further message: the
// command already said what was wrong.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

const usage = `usage:
  incidentbot [serve] [flags]     run the service (every flag is also an env var; see -help)
  incidentbot runbooks lint [DIR] check runbook files (the built-in ones without DIR)
  incidentbot migrate up|status   apply or list the PostgreSQL schema steps (INCIDENTBOT_DB)
  incidentbot copy-store --from FILE --to URL   copy a bbolt store into an empty PostgreSQL database
  incidentbot version             print the version
`

// run is the whole program minus the process: tests call it with their own
// args, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "incidentbot", version)
		return nil
	case "runbooks":
		if len(args) == 0 || args[0] != "lint" {
			fmt.Fprint(stderr, usage)
			return exitCode(2)
		}
		if code := runbooks.LintCommand(ctx, args[1:], stdout, stderr, slackCheck); code != 0 {
			return exitCode(code)
		}
		return nil
	case "copy-store":
		return copyStore(ctx, args, stdout, stderr)
	case "migrate":
		return migrate(ctx, args, getenv, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "incidentbot: unknown command %q\n%s", cmd, usage)
	return exitCode(2)
}
