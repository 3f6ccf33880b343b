package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
)

// amPayload is Alertmanager's webhook body, payload version 4, under its
// own JSON keys. Importing Alertmanager's types would drag in its whole
// notification pipeline; keys it adds later (notification_reason,
// routeLabels...) are ignored.
type amPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []amAlert         `json:"alerts"`
}

// amAlert is one alert of the payload. Times stay strings until checked,
// so that a bad one is reported with its field and index.
type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// maxPairs bounds the labels (or annotations) of one alert or group. Real
// alerts carry a few dozen; thousands are a broken or hostile sender, and
// every one would be stored with the incident.
const maxPairs = 1000

// alertmanager receives a webhook: 200 with the IngestResult once the
// notification is durably stored, 4xx for a body that will never be
// accepted, 503 when storing failed (Alertmanager retries 5xx only).
func (s *Server) alertmanager(c *gin.Context) {
	log := s.logger(c.Request.Context())
	if err := jsonContentType(c.Request); err != nil {
		abort(c, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	limit := s.cfg.MaxWebhookBody
	body, held, err := readBody(c.Request, limit, s.bodies)
	// The bytes stay charged until the notification is stored: its decoded
	// form is alive until then too.
	defer s.bodies.give(held)
	if errors.Is(err, errBusy) {
		log.Warn("alertmanager notification deferred: too many large bodies at once; answering 503 so that it is retried",
			"in_flight_limit_bytes", s.bodies.max, "content_length", c.Request.ContentLength)
	}
	if errors.Is(err, errTooLarge) {
		log.Error("alertmanager notification REFUSED and LOST: body over the limit; Alertmanager does not retry a 413. "+
			"Raise the webhook body limit or set max_alerts on the receiver",
			"limit_bytes", limit, "content_length", c.Request.ContentLength, "user_agent", c.Request.UserAgent())
	}
	if err != nil {
		bodyError(c, err, limit)
		return
	}
	n, err := decodeAlertmanager(body, s.svc.Now())
	if err != nil {
		log.Warn("alertmanager notification refused", "err", clipMessage(err.Error()), "user_agent", c.Request.UserAgent())
		s.fail(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.IngestTimeout)
	defer cancel()
	res, err := s.ingest(ctx, n)
	if err != nil {
		s.fail(c, err)
		return
	}
	log.Info("alertmanager notification", "receiver", n.Receiver, "status", n.Status, "alerts", len(n.Alerts),
		"incident", res.Incident, "opened", res.Opened, "changes", res.Changes, "ignored", res.Ignored)
	c.Set(ingestResultKey, res)
	c.JSON(http.StatusOK, res)
}

// ingestResultKey holds a stored notification's IngestResult in the gin
// context, for observeWebhook.
const ingestResultKey = "ingest_result"

// observeWebhook tells Config.OnWebhook how an Alertmanager request ended,
// whichever step answered it: the token check, the body checks, the store,
// or a panic (which recoverPanic answers with a 500 after this returns).
func (s *Server) observeWebhook(c *gin.Context) {
	if s.cfg.OnWebhook == nil {
		c.Next()
		return
	}
	answered := false
	defer func() {
		status := c.Writer.Status()
		if !answered {
			status = http.StatusInternalServerError
		}
		v, _ := c.Get(ingestResultKey)
		res, _ := v.(bot.IngestResult)
		s.cfg.OnWebhook(status, res)
	}()
	c.Next()
	answered = true
}

// decodeAlertmanager decodes a webhook body into a notification and
// validates it against now, the receiving clock. Errors wrap bot.ErrInvalid
// and name the offending field, like "alerts[2].startsAt: ...".
func decodeAlertmanager(body []byte, now time.Time) (*bot.Notification, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("body is empty")
	}
	if !utf8.Valid(body) {
		return nil, invalid("body is not valid UTF-8 (first bad byte at offset %d)", firstInvalidUTF8(body))
	}
	var p amPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, jsonError(body, err)
	}
	if p.Version != "4" {
		return nil, invalid("version %s: want \"4\"", bot.Quote(p.Version))
	}
	n, err := p.notification()
	if err != nil {
		return nil, err
	}
	if err := n.Validate(now); err != nil {
		return nil, err
	}
	return n, nil
}

func (p *amPayload) notification() (*bot.Notification, error) {
	n := &bot.Notification{
		Receiver:          unescapeReceiver(p.Receiver),
		GroupKey:          p.GroupKey,
		Status:            bot.AlertStatus(p.Status),
		GroupLabels:       p.GroupLabels,
		CommonLabels:      p.CommonLabels,
		CommonAnnotations: p.CommonAnnotations,
		ExternalURL:       p.ExternalURL,
		TruncatedAlerts:   p.TruncatedAlerts,
		Alerts:            make([]bot.Alert, 0, len(p.Alerts)),
	}
	if n.Receiver == "" {
		return nil, invalid("receiver is empty")
	}
	err := errors.Join(checkIdentity("receiver", p.Receiver), checkIdentity("groupKey", p.GroupKey),
		checkPairs(topLevel, "groupLabels", p.GroupLabels), checkPairs(topLevel, "commonLabels", p.CommonLabels),
		checkPairs(topLevel, "commonAnnotations", p.CommonAnnotations))
	if err != nil {
		return nil, firstError(err)
	}
	for i := range p.Alerts {
		a, err := p.Alerts[i].alert(i)
		if err != nil {
			return nil, err
		}
		n.Alerts = append(n.Alerts, a)
	}
	return n, nil
}

// alert converts alerts[i]. A firing alert has no end, whatever endsAt
// says (Alertmanager sends 0001-01-01T00:00:00Z).
func (a *amAlert) alert(i int) (bot.Alert, error) {
	prefix := alertPrefix(i)
	err := errors.Join(checkPairs(prefix, "labels", a.Labels), checkPairs(prefix, "annotations", a.Annotations))
	if err != nil {
		return bot.Alert{}, firstError(err)
	}
	starts, err := parseTime(prefix, "startsAt", a.StartsAt)
	if err != nil {
		return bot.Alert{}, err
	}
	out := bot.Alert{Fingerprint: a.Fingerprint, Status: bot.AlertStatus(a.Status), Labels: a.Labels,
		Annotations: a.Annotations, StartsAt: starts, GeneratorURL: a.GeneratorURL}
	if out.Status == bot.AlertResolved {
		ends, err := parseTime(prefix, "endsAt", a.EndsAt)
		if err != nil {
			return bot.Alert{}, err
		}
		if !ends.IsZero() {
			out.EndsAt = &ends
		}
	}
	return out, nil
}

// alertPrefix names the fields of alerts[i] in errors; the name is built
// only when there is an error to report.
type alertPrefix int

// topLevel names the payload's own fields.
const topLevel alertPrefix = -1

func (i alertPrefix) field(name string) string {
	if i < 0 {
		return name
	}
	return fmt.Sprintf("alerts[%d].%s", int(i), name)
}

// firstError unwraps what errors.Join made of checks that all ran: the
// first problem is the one reported.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()[0]
	}
	return err
}

// parseTime reads an RFC 3339 time, in UTC. Empty and Go's zero time give
// the zero time, which Validate reports as missing. No alert started before
// 1970; such a time is a broken sender (and would not survive JSON again).
func parseTime(at alertPrefix, field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalid("%s: %s is not an RFC 3339 time", at.field(field), bot.Quote(s))
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	if t.Before(time.Unix(0, 0)) {
		return time.Time{}, invalid("%s: %s is before 1970", at.field(field), bot.Quote(s))
	}
	return t.UTC(), nil
}

// checkIdentity refuses a NUL in what names the group (receiver,
// groupKey). Text is cleaned in bot (bot.CleanText, on every inbound path
// alike), but an identity cannot be: cleaning it could make two groups
// one. Alertmanager quotes label values inside the groupKey, so no real
// sender puts a raw NUL there, and no store can keep it.
func checkIdentity(field, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return invalid("%s contains a NUL character", field)
	}
	return nil
}

func checkPairs(at alertPrefix, field string, m map[string]string) error {
	if len(m) > maxPairs {
		return invalid("%s has %d entries: at most %d", at.field(field), len(m), maxPairs)
	}
	for k := range m {
		if k == "" {
			return invalid("%s has an empty name", at.field(field))
		}
	}
	return nil
}

// unescapeReceiver undoes Alertmanager's regexp escaping of the receiver
// name (`team\.ops` is the receiver team.ops).
func unescapeReceiver(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", bot.ErrInvalid, fmt.Sprintf(format, args...))
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// jsonError words a decoding error with the field it is about. The
// decoder does not say which alert a type error is in, so for those the
// alerts are decoded one by one to find it.
func jsonError(body []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return invalid("body is not valid JSON (at byte %d): %s", syn.Offset, syn.Error())
	case errors.As(err, &typ) && typ.Field == "":
		return invalid("body: want a JSON object, got %s", typ.Value)
	case errors.As(err, &typ) && (typ.Field == "alerts" || strings.HasPrefix(typ.Field, "alerts.")):
		if e := locateAlertError(body); e != nil {
			return e
		}
	}
	if errors.As(err, &typ) {
		return invalid("%s: want %s, got %s", typ.Field, jsonKind(typ.Type), typ.Value)
	}
	return invalid("body: %v", err)
}

func locateAlertError(body []byte) error {
	var raw struct {
		Alerts []json.RawMessage `json:"alerts"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return nil
	}
	for i, r := range raw.Alerts {
		var a amAlert
		var typ *json.UnmarshalTypeError
		if err := json.Unmarshal(r, &a); errors.As(err, &typ) {
			if typ.Field == "" {
				return invalid("alerts[%d]: want a JSON object, got %s", i, typ.Value)
			}
			return invalid("alerts[%d].%s: want %s, got %s", i, typ.Field, jsonKind(typ.Type), typ.Value)
		}
	}
	return nil
}

// jsonKind names a Go type the way a JSON sender thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice:
		return "an array"
	}
	return t.String()
}
