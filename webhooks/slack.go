package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// slackBudget bounds the work done before answering Slack, which gives up
// after 3 s.
const slackBudget = 2500 * time.Millisecond

// slackBodyKey holds the verified raw body in the gin context.
const slackBodyKey = "slack_body"

// verifySlack checks Slack's signature on the raw body before anything
// parses it, and keeps the body for the handler. A missing secret is a 503
// (the operator must set it); a bad or stale signature is a 401 and
// nothing happens.
func (s *Server) verifySlack(c *gin.Context) {
	if s.cfg.SigningSecret == "" {
		abort(c, http.StatusServiceUnavailable, "slack signing secret not configured")
		return
	}
	body, _, err := readBody(c.Request, maxSmallBody, nil)
	if err != nil {
		bodyError(c, err, maxSmallBody)
		return
	}
	if err := checkSlackSignature(s.cfg.SigningSecret, c.Request.Header, body); err != nil {
		s.logger(c.Request.Context()).Warn("slack request refused", "path", c.Request.URL.Path, "err", err)
		abort(c, http.StatusUnauthorized, err.Error())
		return
	}
	c.Set(slackBodyKey, body)
	c.Next()
}

// checkSlackSignature verifies X-Slack-Signature, v0=HMAC-SHA256(secret,
// "v0:<timestamp>:<body>"), with slack-go's SecretsVerifier, which also
// refuses an X-Slack-Request-Timestamp more than 5 minutes from the wall
// clock, so that a captured request cannot be replayed later. Its errors
// become messages that say what to fix.
func checkSlackSignature(secret string, h http.Header, body []byte) error {
	if h.Get("X-Slack-Request-Timestamp") == "" || h.Get("X-Slack-Signature") == "" {
		return errors.New("signature missing: want headers X-Slack-Request-Timestamp and X-Slack-Signature")
	}
	sv, err := slack.NewSecretsVerifier(h, secret)
	var numErr *strconv.NumError
	switch {
	case errors.As(err, &numErr):
		return errors.New("header X-Slack-Request-Timestamp is not a unix time")
	case errors.Is(err, slack.ErrExpiredTimestamp):
		return errors.New("header X-Slack-Request-Timestamp is more than 5 minutes from our clock: stale or replayed")
	case err != nil:
		return errors.New("header X-Slack-Signature is malformed: want v0=<hex of a SHA-256 HMAC>")
	}
	if _, err := sv.Write(body); err != nil {
		return errors.New("the body could not be checked")
	}
	if err := sv.Ensure(); err != nil {
		return errors.New("header X-Slack-Signature does not match the body")
	}
	return nil
}

// slackForm parses the verified body as a form.
func slackForm(c *gin.Context) (url.Values, bool) {
	form, err := url.ParseQuery(string(c.MustGet(slackBodyKey).([]byte)))
	if err != nil {
		abort(c, http.StatusBadRequest, "body is not a form")
		return nil, false
	}
	return form, true
}

// slackCommand answers POST /slack/commands with the reply, always 200:
// Slack shows any other status as an unhelpful error.
func (s *Server) slackCommand(c *gin.Context) {
	form, ok := slackForm(c)
	if !ok {
		return
	}
	cmd := slack.SlashCommand{
		TeamID: form.Get("team_id"), TeamDomain: form.Get("team_domain"),
		EnterpriseID: form.Get("enterprise_id"), EnterpriseName: form.Get("enterprise_name"),
		IsEnterpriseInstall: form.Get("is_enterprise_install") == "true",
		ChannelID:           form.Get("channel_id"), ChannelName: form.Get("channel_name"),
		UserID: form.Get("user_id"), UserName: form.Get("user_name"),
		Command: form.Get("command"), Text: form.Get("text"),
		ResponseURL: form.Get("response_url"), TriggerID: form.Get("trigger_id"), APIAppID: form.Get("api_app_id"),
	}
	c.JSON(http.StatusOK, s.Command(c.Request.Context(), cmd))
}

// slackInteraction answers POST /slack/interactions with an empty 200 once
// the change is stored; problems go back to the user through response_url.
func (s *Server) slackInteraction(c *gin.Context) {
	form, ok := slackForm(c)
	if !ok {
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		abort(c, http.StatusBadRequest, "payload: not an interaction callback: "+err.Error())
		return
	}
	if resp := s.Interaction(c.Request.Context(), cb); resp != nil {
		c.JSON(http.StatusOK, resp)
		return
	}
	c.Status(http.StatusOK)
}

// slackEvent answers POST /slack/events: the url_verification challenge,
// and event callbacks with 200 once handled, or 503 so that Slack retries
// when the store failed.
func (s *Server) slackEvent(c *gin.Context) {
	body := c.MustGet(slackBodyKey).([]byte)
	var outer struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		abort(c, http.StatusBadRequest, "body is not valid JSON")
		return
	}
	if outer.Type == slackevents.URLVerification {
		c.JSON(http.StatusOK, gin.H{"challenge": outer.Challenge})
		return
	}
	ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
	if err != nil {
		// An event type slack-go does not know: nothing we act on.
		s.logger(c.Request.Context()).Debug("slack event ignored", "type", outer.Type, "err", err)
		c.Status(http.StatusOK)
		return
	}
	if err := s.Event(c.Request.Context(), ev); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusOK)
}

// budget bounds Slack work so that the answer leaves in time.
func budget(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, slackBudget)
}
