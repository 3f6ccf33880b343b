package runbooks

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// dirFS is os.DirFS for a runbook directory, except that it opens files
// without blocking: opening a FIFO for reading waits for a writer, and
// one named x.md would hang lint and start-up forever. Opened so, a FIFO
// comes back at once and readFile refuses it as not a regular file.
type dirFS string

func (d dirFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	f, err := os.OpenFile(filepath.Join(string(d), filepath.FromSlash(name)), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Stat lets fs.Stat and fs.WalkDir look without opening.
func (d dirFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	return os.Stat(filepath.Join(string(d), filepath.FromSlash(name)))
}
