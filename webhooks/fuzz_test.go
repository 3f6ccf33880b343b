package webhooks

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// encodeAlertmanager writes n back as Alertmanager would send it.
func encodeAlertmanager(n *bot.Notification) []byte {
	p := map[string]any{
		"version": "4", "groupKey": n.GroupKey, "truncatedAlerts": n.TruncatedAlerts, "status": n.Status,
		"receiver": regexp.QuoteMeta(n.Receiver), "groupLabels": n.GroupLabels, "commonLabels": n.CommonLabels,
		"commonAnnotations": n.CommonAnnotations, "externalURL": n.ExternalURL,
	}
	alerts := make([]map[string]any, len(n.Alerts))
	for i, a := range n.Alerts {
		ends := "0001-01-01T00:00:00Z"
		if a.EndsAt != nil {
			ends = a.EndsAt.Format(time.RFC3339Nano)
		}
		alerts[i] = map[string]any{"status": a.Status, "labels": a.Labels, "annotations": a.Annotations,
			"startsAt": a.StartsAt.Format(time.RFC3339Nano), "endsAt": ends, "generatorURL": a.GeneratorURL, "fingerprint": a.Fingerprint}
	}
	p["alerts"] = alerts
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzDecodeAlertmanager checks that the decoder never panics, that every
// refusal is an ErrInvalid, and that whatever it accepts validates and
// survives being sent again unchanged.
func FuzzDecodeAlertmanager(f *testing.F) {
	now := testNow()
	for _, name := range []string{"firing.json", "resolved.json"} {
		f.Add(readTestdata(f, name))
	}
	f.Add(amBody(now, nil))
	f.Add(amBody(now, func(p, a map[string]any) { a["status"], a["endsAt"] = "resolved", now.Format(time.RFC3339) }))
	f.Add(amBody(now, func(p, a map[string]any) { p["receiver"] = `a\\b\.c\` }))
	f.Add([]byte(`{"version":"4","alerts":[1]}`))
	f.Add([]byte(`{"version":"4","alerts":[{"labels":{"a":1}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := decodeAlertmanager(body, now)
		if err != nil {
			if !errors.Is(err, bot.ErrInvalid) || statusOf(err) != http.StatusBadRequest {
				t.Fatalf("refusal %v is not an ErrInvalid", err)
			}
			return
		}
		if err := n.Validate(now); err != nil {
			t.Fatalf("accepted %q but it does not validate: %v", body, err)
		}
		again, err := decodeAlertmanager(encodeAlertmanager(n), now)
		if err != nil {
			t.Fatalf("accepted %q, but not when sent again: %v", body, err)
		}
		if !reflect.DeepEqual(n, again) {
			t.Fatalf("sent again, %q changed:\n got %+v\nwant %+v", body, again, n)
		}
	})
}

// FuzzSlackCommand sends any command text through the real handler: it
// must always answer 200 with a reply Slack can show.
func FuzzSlackCommand(f *testing.F) {
	e := newEnv(f)
	e.openIncident()
	for _, text := range []string{"", "help", "list", "declare DB down sev1", "ack", "14:05 ack", "sev 2", "status monitoring",
		"lead <@U1|bob>", "note  restarted\tpods ", "impact x", "cause y", "action z", "runbook", "runbook memory-leak",
		"timeline", "postmortem", "resolve done", "reopen", "2024-06-20T14:05:00Z note x", "sev", "\xff", "note \x00"} {
		f.Add(testChannel, text)
	}
	f.Add("C0GENERAL", "ack")
	f.Fuzz(func(t *testing.T, channel, text string) {
		w := e.serve(slackRequest("/slack/commands", "application/x-www-form-urlencoded", commandForm(testUser, channel, text), e.now))
		var r Reply
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &r) != nil {
			t.Fatalf("/incident %q in %q: got %d %s, want 200 and a reply", text, channel, w.Code, w.Body)
		}
		if (r.ResponseType != Ephemeral && r.ResponseType != InChannel) || r.Text == "" {
			t.Fatalf("/incident %q in %q: reply %+v", text, channel, r)
		}
		if r.Text == "could not save, try again" {
			t.Fatalf("/incident %q in %q: the store failed", text, channel)
		}
	})
}
