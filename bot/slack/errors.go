package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// Slack's API error codes, sorted by what retrying can do about them.
var (
	// transientCodes fail now but may succeed later without anyone acting:
	// Slack's own trouble, or a token or scope an operator is fixing (the
	// deliveries wait for them instead of being given up).
	transientCodes = codes("internal_error", "fatal_error", "service_unavailable", "request_timeout",
		"team_added_to_org", "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired")
	notFoundCodes = codes("channel_not_found", "message_not_found", "thread_not_found", "user_not_found",
		"file_not_found", "users_not_found")
	conflictCodes = codes("is_archived", "not_in_channel", "already_archived", "name_taken", "already_pinned",
		"already_in_channel", "cant_update_message", "edit_window_closed", "restricted_action")
)

func codes(list ...string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, c := range list {
		m[c] = true
	}
	return m
}

// errorCode returns the Slack API error code in err ("name_taken"), or "".
func errorCode(err error) string {
	var se slackgo.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

// classify turns a slack-go error into the bot.Chat error contract: a
// *bot.RetryAfterError for rate limits, ErrNotFound, ErrConflict or
// ErrInvalid for answers that retrying will not change, and anything else
// (5xx, network, context) transient. The Slack error stays wrapped, so
// errorCode still finds its code. Tokens never appear in these errors:
// slack-go sends them in the body or a header, never in the URL.
func classify(method string, err error) error {
	if err == nil {
		return nil
	}
	var rl *slackgo.RateLimitedError
	if errors.As(err, &rl) {
		return &bot.RetryAfterError{After: rl.RetryAfter, Err: fmt.Errorf("slack %s: %w", method, err)}
	}
	var sc slackgo.StatusCodeError
	if errors.As(err, &sc) {
		switch {
		case sc.Code == http.StatusTooManyRequests:
			return &bot.RetryAfterError{Err: fmt.Errorf("slack %s: %w", method, err)}
		case sc.Code >= 500:
			return fmt.Errorf("%w: slack %s: %w", bot.ErrUnavailable, method, err)
		}
		return fmt.Errorf("%w: slack %s: %w", bot.ErrInvalid, method, err)
	}
	code := errorCode(err)
	switch {
	case code == "ratelimited":
		return &bot.RetryAfterError{Err: fmt.Errorf("slack %s: %w", method, err)}
	case code == "" || transientCodes[code]:
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("slack %s: %w", method, err)
		}
		return fmt.Errorf("%w: slack %s: %w", bot.ErrUnavailable, method, err)
	case notFoundCodes[code]:
		return fmt.Errorf("%w: slack %s: %w", bot.ErrNotFound, method, err)
	case conflictCodes[code]:
		return fmt.Errorf("%w: slack %s: %w", bot.ErrConflict, method, err)
	}
	return fmt.Errorf("%w: slack %s: %w", bot.ErrInvalid, method, err)
}

// permanent reports whether a classified error is one retrying will not fix.
func permanent(err error) bool {
	return errors.Is(err, bot.ErrInvalid) || errors.Is(err, bot.ErrNotFound) || errors.Is(err, bot.ErrConflict)
}
