package bot

import "errors"

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
