// Package slack is incidentbot's outbound Slack adapter: it creates
// incident channels, posts and edits the incident message, the headline
// and runbook checklists, uploads postmortem drafts and reads pinned
// messages, through slack-go. It implements bot.Chat; the delivery worker
// in bot decides when, retries and records, so nothing here runs on a
// webhook's request path.
package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// Options configures a Client. Zero values are usable defaults.
type Options struct {
	// APIURL is the Web API base URL (SLACK_API_URL); "" means Slack's.
	APIURL string
	// Channel is the ID of the channel that gets a headline for every
	// incident (INCIDENTBOT_SLACK_CHANNEL); "" means no headlines.
	Channel string
	// Responders are the user IDs invited into every incident channel
	// (INCIDENTBOT_SLACK_RESPONDERS).
	Responders []string
	// RespondersFor returns more user IDs to invite for an incident whose
	// group or alerts carry these labels (the YAML configuration's
	// routing); nil means none.
	RespondersFor func(labels map[string]string) []string
	// ChannelPrefix starts channel names, "<prefix>-<n>-<slug>"; "" means "inc".
	ChannelPrefix string
	// PublicURL is incidentbot's base URL, for links to it; "" means none.
	PublicURL string
	// Runbooks finds the runbooks to post; nil means none.
	Runbooks bot.Runbooks
	// Location is the time zone of times in messages; nil means UTC.
	Location *time.Location
	// HTTPClient makes the calls; nil means one with a 30 s timeout.
	HTTPClient *http.Client
	// Limits are the client-side rate limits; nil means DefaultLimits.
	Limits *Limits
	// Now is the clock of the rate limits; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
	// OnCall, when set, is told about every Web API call made, for
	// metrics; calls the client's own rate limits held back were not made
	// and are not reported. It runs on the calling goroutine and must be
	// quick.
	OnCall func(Call)
}

// Call describes one Web API call, for Options.OnCall.
type Call struct {
	// Method is the Web API method ("chat.postMessage").
	Method string
	// Outcome is CallOK, CallExpected, CallRateLimited or CallError.
	Outcome string
	// Took is how long Slack took to answer, waiting for a turn excluded.
	Took time.Duration
}

// The outcomes of a Call. Rate limits are apart from errors because they
// are retried as Slack says and watched on their own; expected answers
// (a channel name taken, a user already in the channel) are part of the
// normal course, which the code handles, and must not look like errors.
const (
	CallOK          = "ok"
	CallExpected    = "expected"
	CallRateLimited = "rate_limited"
	CallError       = "error"
)

// expectedCodes are the error codes each method's caller handles as an
// answer rather than a failure.
var expectedCodes = map[string]map[string]bool{
	"conversations.create": {"name_taken": true},
	"conversations.invite": {"already_in_channel": true},
	"pins.add":             {"already_pinned": true},
}

// Client is incidentbot's Slack. It is safe for concurrent use, but the
// delivery worker calls it for one incident at a time, which is what keeps
// two channels from being created for one incident.
type Client struct {
	api    *slackgo.Client
	o      Options
	view   view
	limits *limiter
	log    *slog.Logger

	mu      sync.Mutex
	botUser string
	names   expiring[string]   // display names, "" for unknown users
	members expiring[[]string] // channel member lists
}

var _ bot.Chat = (*Client)(nil)

// maxResponders bounds one incident's invitations.
const maxResponders = 100

// New returns a client that acts with the bot token. slack-go's own
// retries stay off: the delivery worker retries, with back-off, durably.
func New(token string, o Options) *Client {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	limits := DefaultLimits()
	if o.Limits != nil {
		limits = *o.Limits
	}
	opts := []slackgo.Option{slackgo.OptionHTTPClient(o.HTTPClient)}
	if o.APIURL != "" {
		opts = append(opts, slackgo.OptionAPIURL(o.APIURL))
	}
	return &Client{
		api:    slackgo.New(token, opts...),
		o:      o,
		view:   view{loc: o.Location, publicURL: o.PublicURL},
		limits: newLimiter(limits, o.Now),
		log:    o.Log,
	}
}

// Deliver carries out the next step of d for inc; see bot.Chat. Open and
// refresh converge the channel on the incident one change at a time;
// the other kinds are one step each.
func (c *Client) Deliver(ctx context.Context, i *bot.Incident, rec bot.ChatRecord, d bot.Delivery) (bot.ChatResult, error) {
	st, err := StateOf(rec)
	if err != nil {
		return bot.ChatResult{}, fmt.Errorf("%w: %w", bot.ErrInvalid, err)
	}
	inc := &incident{Incident: i, State: st}
	res, err := c.deliver(ctx, inc, d)
	if err != nil {
		return bot.ChatResult{}, err
	}
	return res.chat(inc)
}

func (c *Client) deliver(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	switch d.Kind {
	case bot.DeliveryOpen:
		return c.open(ctx, inc, d)
	case bot.DeliveryRefresh:
		return c.refresh(ctx, inc, d)
	case bot.DeliveryPost:
		return c.post(ctx, inc, d)
	case bot.DeliveryRunbook:
		return c.runbook(ctx, inc, d)
	case bot.DeliveryPostmortem:
		return c.postmortem(ctx, inc, d)
	case bot.DeliveryPin:
		return c.pin(ctx, inc, d)
	case bot.DeliveryInvite:
		return c.inviteMore(ctx, inc, d) // page.go
	case bot.DeliveryGraph:
		return c.graph(ctx, inc, d)
	case bot.DeliveryProfile:
		return c.profile(ctx, inc, d) // graph.go
	}
	return result{}, fmt.Errorf("%w: unknown delivery kind %q", bot.ErrInvalid, d.Kind)
}

// call makes one Web API call in its turn and classifies its error. A
// 429 also holds back the method's (or channel's) later calls.
func (c *Client) call(ctx context.Context, method, channel string, fn func(ctx context.Context) error) error {
	if err := c.limits.wait(ctx, method, channel); err != nil {
		return err
	}
	start := c.o.Now()
	err := fn(ctx)
	took := c.o.Now().Sub(start)
	var rl *slackgo.RateLimitedError
	if errors.As(err, &rl) {
		c.limits.block(method, channel, rl.RetryAfter)
	}
	err = classify(method, err)
	if c.o.OnCall != nil {
		c.o.OnCall(Call{Method: method, Outcome: outcome(method, err), Took: took})
	}
	return err
}

// outcome names what a classified error of method means for a Call.
func outcome(method string, err error) string {
	var ra *bot.RetryAfterError
	switch {
	case err == nil:
		return CallOK
	case errors.As(err, &ra):
		return CallRateLimited
	case expectedCodes[method][errorCode(err)]:
		return CallExpected
	}
	return CallError
}

// post sends a message (text, and blocks when given) and returns its ts.
func (c *Client) postMessage(ctx context.Context, channel, text string, blocks []slackgo.Block) (string, error) {
	opts := []slackgo.MsgOption{slackgo.MsgOptionText(text, false), slackgo.MsgOptionDisableLinkUnfurl()}
	if blocks != nil {
		opts = append(opts, slackgo.MsgOptionBlocks(blocks...))
	}
	var ts string
	err := c.call(ctx, "chat.postMessage", channel, func(ctx context.Context) (err error) {
		_, ts, err = c.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	return ts, err
}

// update edits a message the bot posted.
func (c *Client) update(ctx context.Context, channel, ts, text string, blocks []slackgo.Block) error {
	return c.call(ctx, "chat.update", channel, func(ctx context.Context) error {
		_, _, _, err := c.api.UpdateMessageContext(ctx, channel, ts, slackgo.MsgOptionText(text, false), slackgo.MsgOptionBlocks(blocks...))
		return err
	})
}

// self returns the bot's own user ID (auth.test), asked once.
func (c *Client) self(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.botUser != "" {
		return c.botUser, nil
	}
	err := c.call(ctx, "auth.test", "", func(ctx context.Context) error {
		r, err := c.api.AuthTestContext(ctx)
		if err == nil {
			c.botUser = r.UserID
		}
		return err
	})
	return c.botUser, err
}
