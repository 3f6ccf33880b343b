package runbooks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/incidentbot/incidentbot/bot"
)

// Problem is one thing wrong with a runbook file.
type Problem struct {
	// File is the file's path as the caller named it.
	File string
	// Line is 1-based; 0 means the problem concerns the whole file or directory.
	Line int
	Msg  string
	// Advisory problems (a variable that stays empty, a step Slack would
	// show cut) fail lint but not loading: the runbook still works.
	Advisory bool
}

// String renders the problem as "file:line: problem", the form editors and
// CI annotations understand. A file name or message holding control
// characters (an ANSI escape, a newline that would forge another
// "file:line:" line) is quoted as Go's %q does.
func (p Problem) String() string {
	file, msg := quoteName(p.File), escapeControls(p.Msg)
	if p.Line <= 0 {
		return file + ": " + msg
	}
	return fmt.Sprintf("%s:%d: %s", file, p.Line, msg)
}

// Error makes a Problem usable as an error, as Load returns them.
func (p Problem) Error() string { return p.String() }

// quoteName quotes a name that holds anything a terminal or a CI log
// would not print as itself.
func quoteName(s string) string {
	if !printable(s) {
		return strconv.Quote(s)
	}
	return s
}

func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// escapeControls writes the unprintable characters of a message the way
// %q would, leaving the rest (its quotes included) alone.
func escapeControls(s string) string {
	if printable(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Finding is something a Check found in a runbook: Step is the step's
// number, or 0 for the runbook as a whole.
type Finding struct {
	Step int
	Msg  string
}

// Check looks at a runbook the way a consumer shows it (the Slack
// checklist) and says what would go wrong there. Lint reports findings as
// advisory problems.
type Check func(bot.Runbook) []Finding

// Bounds on a runbook directory: lint and start-up stay quick whatever is
// mounted there.
const (
	maxEntries = 100_000 // files and folders walked
	maxDepth   = 16      // folders within folders
)

// Lint checks the runbook files under dir of fsys and returns their
// problems, sorted by file and line; none means every file loads. Runbook
// files are the *.md files in dir and its sub-folders, except README.md
// and names starting with "." or "_" (drafts, templates, and the hidden
// folders of a Kubernetes ConfigMap mount). Only regular files are read
// (a FIFO, socket or device is a problem, never opened), each up to 1 MiB.
// Lint reports bad or missing front matter, unknown keys, matchers that do
// not parse, files without steps, gaps in the step numbering, names used
// by two files (at the second), variables that stay empty or are never
// used, variables steps use that nothing sets, a directory without
// runbooks, and what check (when not nil) finds. It stops when ctx ends.
func Lint(ctx context.Context, fsys fs.FS, dir string, check Check) []Problem {
	_, probs := lint(ctx, fsys, dir, func(name string) string { return path.Join(dir, name) }, check)
	return probs
}

// lint returns how many runbooks loaded and the problems.
func lint(ctx context.Context, fsys fs.FS, dir string, display func(string) string, check Check) (int, []Problem) {
	rbs, probs, n, err := readDir(ctx, fsys, dir, display)
	if err != nil {
		return 0, []Problem{{File: display(""), Msg: err.Error()}}
	}
	if n == 0 {
		probs = append(probs, Problem{File: display(""), Msg: "no runbook files (*.md) found"})
	}
	for _, rb := range rbs {
		probs = append(probs, advise(rb, check)...)
	}
	sortProblems(probs)
	return len(rbs), probs
}

func sortProblems(probs []Problem) {
	slices.SortStableFunc(probs, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
}

// errNotRegular is the problem of a runbook file that is a FIFO, a socket
// or a device: reading it could block forever.
var errNotRegular = errors.New("not a regular file")

// readDir parses the runbook files under dir. It returns the runbooks
// without problems, the problems sorted by file and line, and how many
// files it read. It fails when dir cannot be read or ctx ends.
func readDir(ctx context.Context, fsys fs.FS, dir string, display func(string) string) (rbs []*runbook, probs []Problem, n int, err error) {
	if _, err := fs.Stat(fsys, dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, 0, notExist{err}
	}
	owner := map[string]string{} // runbook name -> file that has it
	entries := 0
	err = fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("stopped: %w", ctxErr)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		if dir == "." {
			rel = p
		}
		if err != nil {
			if p == dir {
				return fmt.Errorf("cannot read runbook directory: %w", err)
			}
			probs = append(probs, Problem{File: display(rel), Msg: "cannot read: " + plainErr(err, p)})
			return skip(d)
		}
		if entries++; entries > maxEntries {
			return fmt.Errorf("more than %d files and folders: is this the runbook directory?", maxEntries)
		}
		name := d.Name()
		if p != dir && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return skip(d)
		}
		if d.IsDir() {
			if strings.Count(rel, "/") >= maxDepth {
				probs = append(probs, Problem{File: display(rel), Msg: fmt.Sprintf("folders nested deeper than %d are not read", maxDepth)})
				return fs.SkipDir
			}
			return nil
		}
		if !isRunbookFile(name) {
			return nil
		}
		n++
		file := display(rel)
		if t := d.Type(); !t.IsRegular() && t&fs.ModeSymlink == 0 {
			probs = append(probs, Problem{File: file, Msg: errNotRegular.Error()})
			return nil
		}
		data, err := readFile(fsys, p)
		if err != nil {
			if errors.Is(err, errNotRegular) {
				probs = append(probs, Problem{File: file, Msg: errNotRegular.Error()})
			} else {
				probs = append(probs, Problem{File: file, Msg: "cannot read: " + plainErr(err, p)})
			}
			return nil
		}
		rb, ps := parse(file, data)
		if first, dup := owner[rb.Name]; dup && rb.Name != "" {
			ps = append(ps, Problem{File: file, Line: or(rb.nameLine, 1), Msg: fmt.Sprintf("duplicate name %q: %s already has it", rb.Name, quoteName(first))})
		} else if rb.Name != "" {
			owner[rb.Name] = file
		}
		if len(ps) == 0 {
			rbs = append(rbs, rb)
		}
		probs = append(probs, ps...)
		return nil
	})
	if err != nil {
		return nil, nil, 0, err
	}
	sortProblems(probs)
	return rbs, probs, n, nil
}

// skip skips a folder, or nothing for a file.
func skip(d fs.DirEntry) error {
	if d != nil && d.IsDir() {
		return fs.SkipDir
	}
	return nil
}

// plainErr is an error's message without the path, which the problem
// already names (quoted when it must be).
func plainErr(err error, p string) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return strings.ReplaceAll(err.Error(), p, "")
}

func isRunbookFile(name string) bool {
	return strings.EqualFold(path.Ext(name), ".md") && !strings.EqualFold(name, "README.md") &&
		!strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_")
}

// readFile reads at most one byte more than maxFileSize, so that parse can
// refuse a larger file without holding it all. It refuses what is not a
// regular file; the directory's FS (dirFS) opens without blocking, so a
// FIFO put in place of a file is refused, not waited on.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	return io.ReadAll(io.LimitReader(f, maxFileSize+1))
}

// notExist says plainly that the runbook directory is missing, and still
// matches fs.ErrNotExist.
type notExist struct{ err error }

func (e notExist) Error() string { return "runbook directory does not exist" }
func (e notExist) Unwrap() error { return e.err }
