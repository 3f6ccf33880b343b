package heapprofile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/incidentbot/incidentbot/bot"
)

// Dir keeps captured profiles as files under one directory (beside the
// database: profiles are large and written once, so they stay out of the
// store). It implements bot.ProfileBlobs.
type Dir struct {
	root string
}

var _ bot.ProfileBlobs = Dir{}

// NewDir returns a Dir rooted at root, creating it.
func NewDir(root string) (Dir, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return Dir{}, fmt.Errorf("profile directory: %w", err)
	}
	return Dir{root: root}, nil
}

// blobName is what names may look like: inc-<n>/<stamp>.pb.gz.
var blobName = regexp.MustCompile(`^inc-[0-9]{1,19}/[0-9A-Za-z.]{1,64}\.pb\.gz$`)

func (d Dir) path(name string) (string, error) {
	if !blobName.MatchString(name) {
		return "", fmt.Errorf("%w: profile name %q", bot.ErrInvalid, name)
	}
	return filepath.Join(d.root, filepath.FromSlash(name)), nil
}

// Put writes data under name atomically (a temporary file renamed), so a
// crash never leaves half a profile.
func (d Dir) Put(name string, data []byte) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), p)
}

// Get reads what Put wrote.
func (d Dir) Get(name string) ([]byte, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: profile %s", bot.ErrNotFound, name)
	}
	return b, err
}

// DeleteIncident removes the profiles of incident id; see bot.ProfileBlobs.
func (d Dir) DeleteIncident(id int64) error {
	if id <= 0 {
		return fmt.Errorf("%w: incident id %d", bot.ErrInvalid, id)
	}
	return os.RemoveAll(filepath.Join(d.root, "inc-"+strconv.FormatInt(id, 10)))
}
