package runbooks

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Problem is one thing wrong with a runbook file.
type Problem struct {
	// File is the file's path as the caller named it.
	File string
	// Line is 1-based; 0 means the problem concerns the whole file or directory.
	Line int
	Msg  string
}

// String renders the problem as "file:line: problem", the form editors and
// CI annotations understand.
func (p Problem) String() string {
	if p.Line <= 0 {
		return p.File + ": " + p.Msg
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Error makes a Problem usable as an error, as Load returns them.
func (p Problem) Error() string { return p.String() }

// Lint checks the runbook files in dir of fsys and returns their problems,
// sorted by file and line; none means every file loads. Runbook files are
// the *.md files directly in dir, except README.md and names starting with
// "." or "_" (drafts, templates). Lint reports bad or missing front matter,
// unknown keys, matchers that do not parse, files without steps, gaps in the
// step numbering, names used by two files (at the second), and a directory
// without runbooks.
func Lint(fsys fs.FS, dir string) []Problem {
	return lint(fsys, dir, func(name string) string { return path.Join(dir, name) })
}

func lint(fsys fs.FS, dir string, display func(string) string) []Problem {
	_, probs, n, err := readDir(fsys, dir, display)
	if err != nil {
		return []Problem{{File: display(""), Msg: err.Error()}}
	}
	if n == 0 {
		probs = append(probs, Problem{File: display(""), Msg: "no runbook files (*.md) found"})
	}
	return probs
}

// readDir parses the runbook files in dir. It returns the runbooks without
// problems, the problems sorted by file and line, and how many files it read.
func readDir(fsys fs.FS, dir string, display func(string) string) (rbs []*runbook, probs []Problem, n int, err error) {
	entries, err := fs.ReadDir(fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, 0, notExist{err}
	}
	if err != nil {
		return nil, nil, 0, fmt.Errorf("cannot read runbook directory: %w", err)
	}
	owner := map[string]string{} // runbook name -> file that has it
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !isRunbookFile(name) {
			continue
		}
		n++
		file := display(name)
		data, err := readFile(fsys, path.Join(dir, name))
		if err != nil {
			probs = append(probs, Problem{File: file, Msg: fmt.Sprintf("cannot read: %v", err)})
			continue
		}
		rb, ps := parse(file, data)
		if first, dup := owner[rb.Name]; dup && rb.Name != "" {
			ps = append(ps, Problem{File: file, Line: or(rb.nameLine, 1), Msg: fmt.Sprintf("duplicate name %q: %s already has it", rb.Name, first)})
		} else if rb.Name != "" {
			owner[rb.Name] = file
		}
		if len(ps) == 0 {
			rbs = append(rbs, rb)
		}
		probs = append(probs, ps...)
	}
	slices.SortStableFunc(probs, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	return rbs, probs, n, nil
}

func isRunbookFile(name string) bool {
	return strings.EqualFold(path.Ext(name), ".md") && !strings.EqualFold(name, "README.md") &&
		!strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_")
}

// readFile reads at most one byte more than maxFileSize, so that parse can
// refuse a larger file without holding it all.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize+1))
}

// notExist says plainly that the runbook directory is missing, and still
// matches fs.ErrNotExist.
type notExist struct{ err error }

func (e notExist) Error() string { return "runbook directory does not exist" }
func (e notExist) Unwrap() error { return e.err }
