package bot

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// The domain error kinds. Adapters map them to protocol answers in one place
// (webhooks maps them to HTTP status codes); everything else wraps them with
// %w so that errors.Is finds them.
var (
	// ErrNotFound means the incident (or other record) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the input will never be accepted as it is.
	ErrInvalid = errors.New("invalid")
	// ErrConflict means the request is valid but contradicts the current state.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable means a dependency (the store) failed; retrying later may work.
	ErrUnavailable = errors.New("unavailable")
)

// MaxQuoted is how much of an offending value an error message quotes.
const MaxQuoted = 100

// Quote quotes s for an error message, as %q does, but at most MaxQuoted
// bytes of it, cut at a character boundary and followed by how long it
// was: a 20 MiB label value must not be echoed whole into an answer and a
// log line.
func Quote(s string) string {
	if len(s) <= MaxQuoted {
		return strconv.Quote(s)
	}
	cut := MaxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}
