package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

const signingSecret = "e2e-signing-secret"

// slackPost sends a request to /slack/* signed as Slack signs it, at the
// given age; it returns the status and body.
func slackPost(t *testing.T, base, path string, form url.Values, age time.Duration, secret string) (int, string) {
	t.Helper()
	return slackSend(t, base, path, "application/x-www-form-urlencoded", form.Encode(), age, secret)
}

func slackSend(t *testing.T, base, path, contentType, body string, age time.Duration, secret string) (int, string) {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Add(-age).Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// command types `/incident <text>` as user in the channel of incident id
// and fails the test unless it added exactly one timeline entry by that
// user (the delivery worker may add its own entries meanwhile).
func command(t *testing.T, b *botProc, id int64, user, channel, text string) {
	t.Helper()
	before, after := entriesBy(t, b, id, user), 0
	_, reply := commandReply(t, b.URL, user, channel, text)
	if after = entriesBy(t, b, id, user); after != before+1 {
		t.Fatalf("/incident %s: the timeline went from %d to %d entries by %s; reply: %s", text, before, after, user, reply)
	}
}

func entriesBy(t *testing.T, b *botProc, id int64, user string) int {
	t.Helper()
	var tl []entryJSON
	b.getJSON(t, fmt.Sprintf("/api/v1/incidents/%d/timeline", id), "", &tl)
	n := 0
	for _, e := range tl {
		if e.Actor == user {
			n++
		}
	}
	return n
}

// commandReply types `/incident <text>` and returns Slack's response type
// and text.
func commandReply(t *testing.T, base, user, channel, text string) (string, string) {
	t.Helper()
	status, body := slackPost(t, base, "/slack/commands", url.Values{"command": {"/incident"}, "text": {text},
		"user_id": {user}, "user_name": {strings.ToLower(user)}, "channel_id": {channel}, "team_id": {"T0"},
		"response_url": {"http://127.0.0.1:1/unused"}, "trigger_id": {"1.2.3"}}, 0, signingSecret)
	if status != 200 {
		t.Fatalf("/incident %s: HTTP %d %s", text, status, body)
	}
	var reply struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal([]byte(body), &reply); err != nil {
		t.Fatalf("/incident %s: reply %q is not JSON: %v", text, body, err)
	}
	return reply.ResponseType, reply.Text
}

func click(t *testing.T, base, user, channel, actionID, value string) {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]string{"id": user}, "channel": map[string]string{"id": channel},
		"response_url": "http://127.0.0.1:1/unused", "trigger_id": "1.2.3",
		"actions": []map[string]string{{"action_id": actionID, "value": value, "type": "button", "block_id": "b"}},
	})
	if status, body := slackPost(t, base, "/slack/interactions", url.Values{"payload": {string(payload)}}, 0, signingSecret); status != 200 {
		t.Fatalf("click %s: HTTP %d %s", actionID, status, body)
	}
}

// TestReferenceIncidentThroughSlack replays the payment meltdown of
// reference/postmortem-payment-meltdown-2024.md end to end: the real
// Alertmanager fires MemoryLeak for payment-gateway at 14:00, the bot opens
// a channel with the alerts, buttons and the memory-leak runbook, the
// responders drive it with signed /incident commands and button clicks
// (with the times things happened), and the exported draft reads as the
// reference does.
func TestReferenceIncidentThroughSlack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Alertmanager")
	}
	slack := slacktesting.New()
	defer slack.Close()
	slack.AddUser(slacktesting.User{ID: "U0CAPTAIN", Name: "captain", RealName: "Captain Debug"})
	slack.AddUser(slacktesting.User{ID: "U0ATEAM", Name: "ateam", RealName: "Ada Team"})
	announce := slack.AddChannel("incidents", false)
	const token = "wh-token-slack"
	env := map[string]string{
		"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"), "INCIDENTBOT_WEBHOOK_TOKEN": token,
		"INCIDENTBOT_LOG_FORMAT": "text", "SLACK_BOT_TOKEN": "xoxb-e2e", "SLACK_SIGNING_SECRET": signingSecret,
		"SLACK_API_URL": slack.APIURL(), "INCIDENTBOT_SLACK_CHANNEL": announce,
		"INCIDENTBOT_SLACK_RESPONDERS": "U0CAPTAIN", "INCIDENTBOT_PUBLIC_URL": "https://incidentbot.example.com",
	}
	b := startBot(t, env)
	am := startAlertmanager(t, b.URL, token)
	am.push(t, memoryLeak("pg-1"))

	var inc incidentJSON
	var channel string
	waitFor(t, 30*time.Second, "the incident channel with its message and runbook", func() bool {
		var full map[string]any
		b.getJSON(t, "/api/v1/incidents/1", "", &full)
		channel, _ = full["slack_channel_id"].(string)
		return channel != "" && len(slack.Messages(channel)) >= 2
	})
	ch, _ := slack.Channel(channel)
	if !regexp.MustCompile(`^inc-1-[a-z0-9-]+$`).MatchString(ch.Name) || len(ch.Name) > 80 || !strings.Contains(ch.Name, "memory") {
		t.Errorf("channel name %q, want inc-1-<slug about the memory leak>", ch.Name)
	}
	if !containsStr(ch.Members, "U0CAPTAIN") {
		t.Errorf("channel members %v lack the responder U0CAPTAIN", ch.Members)
	}
	msgs := slack.Messages(channel)
	if !strings.Contains(msgs[0].Blocks, "incident_ack") || !strings.Contains(msgs[0].Blocks, "incident_resolve") {
		t.Errorf("first message lacks the Acknowledge/Resolve buttons: %s", msgs[0].Blocks)
	}
	if !anyMessage(msgs, "runbook_step") {
		t.Errorf("no runbook checklist was posted in %s", ch.Name)
	}
	waitFor(t, 10*time.Second, "the headline in #incidents linking the channel", func() bool {
		return anyMessage(slack.Messages(announce), channel)
	})

	// Forged and stale requests change nothing.
	form := url.Values{"command": {"/incident"}, "text": {"ack"}, "user_id": {"U0EVIL"}, "channel_id": {channel}}
	for name, req := range map[string]struct {
		age    time.Duration
		secret string
	}{"forged": {0, "not-the-secret"}, "stale": {6 * time.Minute, signingSecret}} {
		if status, _ := slackPost(t, b.URL, "/slack/commands", form, req.age, req.secret); status != 401 {
			t.Errorf("%s signature: HTTP %d, want 401", name, status)
		}
	}
	var afterForgery map[string]any
	b.getJSON(t, "/api/v1/incidents/1", "", &afterForgery)
	if n := entriesBy(t, b, 1, "U0EVIL"); n != 0 || afterForgery["acknowledged_at"] != nil {
		t.Fatalf("forged or stale requests changed the incident: %d entries by the forger, acknowledged_at %v", n, afterForgery["acknowledged_at"])
	}

	captain, ateam := "U0CAPTAIN", "U0ATEAM"
	command(t, b, 1, captain, channel, "2024-06-20 14:05 ack")
	for _, c := range []struct{ user, text string }{
		{captain, "note 2024-06-20 14:10 Initial thought: traffic spike. But it is a quiet day in traffic land."},
		{captain, "note 2024-06-20 14:20 Traffic logs reviewed, no suspicious activity."},
		{captain, "note 2024-06-20 14:30 Server logs reveal high memory usage."},
		{captain, "lead 2024-06-20 14:40 <@U0ATEAM>"},
		{ateam, "note 2024-06-20 15:00 Recent deployments checked: all clear."},
		{ateam, "note 2024-06-20 15:20 Detailed memory profiling begins on the payment gateway module."},
		{ateam, "status 2024-06-20 15:40 identified"},
		{ateam, "cause 2024-06-20 15:40 A memory leak in the payment gateway integration: each transaction left memory behind."},
		{captain, "impact 2024-06-20 15:45 75% of users saw slow page loads and failed payment processing."},
		{ateam, "status 2024-06-20 16:00 monitoring"},
		{ateam, "note 2024-06-20 16:00 Quick patch: servers restarted to kick out the rogue memory hog."},
		{ateam, "action 2024-06-20 16:10 Patch Nginx server configuration to better handle memory usage"},
		{ateam, "action 2024-06-20 16:10 Add monitoring on server memory for all critical modules"},
		{ateam, "action 2024-06-20 16:10 Review and refactor the payment gateway code"},
		{ateam, "action 2024-06-20 16:10 Deploy automated tests that catch memory leaks"},
		{ateam, "action 2024-06-20 16:10 Update the incident response plan for memory leaks"},
		{ateam, "note 2024-06-20 13:10 Deploy 4411 of the payment gateway went out."},
		{ateam, "note 2024-06-20 15:05 Heap profile compared with <@U0CAPTAIN|captain>: transaction buffers are never released."},
		{captain, "note 2024-06-20 15:30 It was DNS."},
		{captain, "resolve 2024-06-20 16:30 Memory released after each transaction; fix tested in staging, then deployed."},
	} {
		command(t, b, 1, c.user, channel, c.text)
	}

	// Corrections through Slack: each change post's menu opens the modal;
	// the profile comparison happened at 15:25, and "It was DNS" is struck.
	correct(t, b, slack, channel, ateam, "Heap profile compared", "2024-06-20 15:25", "", false)
	correct(t, b, slack, channel, captain, "It was DNS", "", "", true)

	// The alert resolves in Alertmanager at 16:30 too.
	end := start.Add(150 * time.Minute)
	resolvedAlert := memoryLeak("pg-1")
	resolvedAlert.EndsAt = &end
	am.push(t, resolvedAlert)
	var tl []entryJSON
	waitFor(t, 20*time.Second, "the alert's resolution on the timeline", func() bool {
		b.getJSON(t, "/api/v1/incidents/1/timeline", "", &tl)
		return countKinds(tl)["alert_resolved"] == 1
	})
	b.getJSON(t, "/api/v1/incidents/1", "", &inc)
	if inc.Status != "resolved" || inc.ResolvedAt == nil || *inc.ResolvedAt != "2024-06-20T16:30:00Z" {
		t.Errorf("incident = %+v, want resolved at 16:30", inc)
	}
	for i := 1; i < len(tl); i++ {
		if tl[i].At < tl[i-1].At {
			t.Errorf("timeline out of order at %d: %s after %s", i, tl[i].At, tl[i-1].At)
		}
	}

	// The postmortem: uploaded into the channel, and served by the API.
	if _, reply := commandReply(t, b.URL, captain, channel, "postmortem"); !strings.Contains(reply, "posted here") {
		t.Errorf("/incident postmortem answered %q", reply)
	}
	var draft string
	waitFor(t, 20*time.Second, "the postmortem file in the channel", func() bool {
		for _, f := range slack.Files() {
			draft = string(f.Content)
		}
		return draft != ""
	})
	res, err := http.Get(b.URL + "/api/v1/incidents/1/postmortem")
	if err != nil {
		t.Fatal(err)
	}
	apiDraft, _ := io.ReadAll(res.Body)
	res.Body.Close()
	checkReferenceDraft(t, draft)
	checkReferenceDraft(t, string(apiDraft))
	golden(t, "testdata/reference-slack.golden.md", draft)
}

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares a draft with the file at path, the export time left
// out; go test ./cmd/incidentbot -run TestReferenceIncidentThroughSlack
// -update rewrites it.
func golden(t *testing.T, path, md string) {
	t.Helper()
	md = regexp.MustCompile(`exported by incidentbot on [^*]* from`).ReplaceAllString(md, "exported by incidentbot on (time of export) from")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if md != string(want) {
		t.Errorf("the draft differs from %s; review with -update and git diff:\n%s", path, md)
	}
}

// correct corrects the timeline entry whose text contains match the way a
// responder does in Slack: the entry's menu in its change post opens the
// modal (views.open), and the modal is submitted with a new time, text or
// the strike box ticked.
func correct(t *testing.T, b *botProc, slack *slacktesting.Server, channel, user, match, when, text string, strike bool) {
	t.Helper()
	var tl []entryJSON
	b.getJSON(t, "/api/v1/incidents/1/timeline", "", &tl)
	var e entryJSON
	for _, x := range tl {
		if strings.Contains(x.Text, match) {
			e = x
		}
	}
	if e.ID == 0 {
		t.Fatalf("no entry %q on the timeline", match)
	}
	value := fmt.Sprintf("1:%d:edit", e.ID)
	waitFor(t, 60*time.Second, "the entry's menu in its change post (posts are paced at 1 a second)", func() bool { return anyMessage(slack.Messages(channel), value) })
	opened := len(slack.Views())
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]string{"id": user}, "channel": map[string]string{"id": channel},
		"response_url": "http://127.0.0.1:1/unused", "trigger_id": "1.2.3",
		"actions": []map[string]any{{"action_id": "timeline_entry", "type": "overflow", "block_id": "b",
			"selected_option": map[string]any{"value": value, "text": map[string]string{"type": "plain_text", "text": "Edit time or text"}}}},
	})
	if status, body := slackPost(t, b.URL, "/slack/interactions", url.Values{"payload": {string(payload)}}, 0, signingSecret); status != 200 {
		t.Fatalf("menu: HTTP %d %s", status, body)
	}
	views := slack.Views()
	if len(views) != opened+1 {
		t.Fatalf("the menu opened %d modals, want 1", len(views)-opened)
	}
	var view struct {
		PrivateMetadata string `json:"private_metadata"`
		Blocks          []struct {
			BlockID string `json:"block_id"`
			Element struct {
				InitialValue string `json:"initial_value"`
			} `json:"element"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(views[len(views)-1].JSON), &view); err != nil {
		t.Fatal(err)
	}
	initial := map[string]string{}
	for _, bl := range view.Blocks {
		initial[bl.BlockID] = bl.Element.InitialValue
	}
	if when == "" {
		when = initial["when"]
	}
	if text == "" {
		text = initial["text"]
	}
	var selected []any
	if strike {
		selected = []any{map[string]any{"value": "struck", "text": map[string]string{"type": "plain_text", "text": "Strike"}}}
	}
	payload, _ = json.Marshal(map[string]any{
		"type": "view_submission", "user": map[string]string{"id": user},
		"view": map[string]any{"callback_id": "timeline_correct", "private_metadata": view.PrivateMetadata, "state": map[string]any{"values": map[string]any{
			"when":   map[string]any{"when": map[string]any{"type": "plain_text_input", "value": when}},
			"text":   map[string]any{"text": map[string]any{"type": "plain_text_input", "value": text}},
			"strike": map[string]any{"strike": map[string]any{"type": "checkboxes", "selected_options": selected}},
		}}},
	})
	if status, body := slackPost(t, b.URL, "/slack/interactions", url.Values{"payload": {string(payload)}}, 0, signingSecret); status != 200 || body != "" {
		t.Fatalf("submitting the correction: HTTP %d %s", status, body)
	}
	waitFor(t, 60*time.Second, "the correction posted in the channel", func() bool {
		return anyMessage(slack.Messages(channel), "corrected an entry")
	})
}

// checkReferenceDraft checks the exported draft against the reference's
// shape and story.
func checkReferenceDraft(t *testing.T, md string) {
	t.Helper()
	want := []string{
		"# Postmortem Report: INC-1 MemoryLeak on payment-gateway",
		"## Issue Summary",
		"**Duration of Outage:** June 20, 2024, 14:00 UTC to June 20, 2024, 16:30 UTC",
		"**Impact:** 75% of users saw slow page loads",
		"**Root Cause:** A memory leak in the payment gateway integration",
		"**Root Cause:** TODO: the chain of events",
		"**Responders:** Ada Team (@ateam), Captain Debug (@captain)\n",
		"## Timeline",
		"- **14:05 UTC:** acknowledged by Captain Debug (@captain)",
		"- **15:20 UTC:** Detailed memory profiling begins",
		"- **16:00 UTC:** Quick patch: servers restarted",
		"## Root Cause and Resolution",
		"**Resolution:** Memory released after each transaction",
		"## Corrective and Preventative Measures",
		"- [ ] Deploy automated tests that catch memory leaks",
		"| Acknowledged | June 20, 2024, 14:05 UTC | 5m |",
		"| Mitigated | June 20, 2024, 16:00 UTC | 2h |",
		"| Resolved | June 20, 2024, 16:30 UTC | 2h 30m |",
		"## Incident Flow Diagram",
		"```mermaid",
	}
	for _, w := range want {
		if !strings.Contains(md, w) {
			t.Errorf("the draft lacks %q", w)
		}
	}
	order := []string{"**14:00 UTC:**", "**14:05 UTC:**", "**14:10 UTC:**", "**14:40 UTC:**", "**15:40 UTC:**", "**16:00 UTC:**", "**16:30 UTC:**"}
	last := -1
	for _, o := range order {
		i := strings.Index(md, o)
		if i < last {
			t.Errorf("timeline entry %s is out of order", o)
		}
		last = i
	}
	for _, w := range []string{
		"- **13:10 UTC:** Deploy 4411 of the payment gateway went out. — Ada Team (@ateam) *(before detection)*",
		"- **15:25 UTC:** Heap profile compared with Captain Debug (@captain): transaction buffers are never released. — Ada Team (@ateam)",
	} {
		if !strings.Contains(md, w) {
			t.Errorf("the draft lacks %q", w)
		}
	}
	if n := strings.Count(md, "Ada Team (@ateam)"); strings.Count(md, "**Responders:** Ada Team (@ateam), Captain Debug (@captain)\n") != 1 || n < 2 {
		t.Errorf("responders are not each named once")
	}
	for _, bad := range []string{"<@", "U0CAPTAIN", "U0ATEAM", "action item:", "It was DNS", "15:05"} {
		if strings.Contains(md, bad) {
			t.Errorf("the draft contains %q: a raw mention, an ID, or a fact stamped as an event", bad)
		}
	}
	if t.Failed() {
		t.Logf("draft:\n%s", md)
	}
}

func anyMessage(msgs []slacktesting.Message, sub string) bool {
	for _, m := range msgs {
		if strings.Contains(m.Text, sub) || strings.Contains(m.Blocks, sub) {
			return true
		}
	}
	return false
}

func containsStr(list []string, s string) bool {
	return slices.Contains(list, s)
}

// TestSlackButtonsRunbookAndPin drives a declared incident with what
// responders click in Slack: the Acknowledge button, a runbook posted by
// hand and one of its steps, a :pushpin: reaction (delivered twice, as
// Slack retries), and the Resolve button.
func TestSlackButtonsRunbookAndPin(t *testing.T) {
	slack := slacktesting.New()
	defer slack.Close()
	general := slack.AddChannel("general", false)
	b := startBot(t, map[string]string{
		"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"), "INCIDENTBOT_LOG_FORMAT": "text",
		"SLACK_BOT_TOKEN": "xoxb-e2e", "SLACK_SIGNING_SECRET": signingSecret, "SLACK_API_URL": slack.APIURL(),
	})
	if kind, reply := commandReply(t, b.URL, "U0CAPTAIN", general, "declare Checkout returns 502 sev2"); kind != "in_channel" || !strings.Contains(reply, "INC-1") {
		t.Fatalf("declare answered %s %q", kind, reply)
	}
	var full map[string]any
	var channel string
	waitFor(t, 15*time.Second, "the declared incident's channel", func() bool {
		b.getJSON(t, "/api/v1/incidents/1", "", &full)
		channel, _ = full["slack_channel_id"].(string)
		return channel != "" && len(slack.Messages(channel)) > 0
	})
	click(t, b.URL, "U0ATEAM", channel, "incident_ack", "1")
	commandReply(t, b.URL, "U0ATEAM", channel, "runbook memory-leak")
	waitFor(t, 15*time.Second, "the memory-leak checklist, recorded", func() bool {
		var tl []entryJSON
		b.getJSON(t, "/api/v1/incidents/1/timeline", "", &tl)
		return anyMessage(slack.Messages(channel), "1:memory-leak:3") && countKinds(tl)["runbook_posted"] > 0
	})
	click(t, b.URL, "U0ATEAM", channel, "runbook_step", "1:memory-leak:3")

	ts := slack.AddMessage(channel, "U0CAPTAIN", "heap diff: gateway.(*Pool).Get holds 1.9 GB", "")
	event, _ := json.Marshal(map[string]any{"type": "event_callback", "event_id": "Ev0PIN", "team_id": "T0", "api_app_id": "A0",
		"event": map[string]any{"type": "reaction_added", "user": "U0ATEAM", "reaction": "pushpin",
			"item": map[string]string{"type": "message", "channel": channel, "ts": ts}, "event_ts": ts}})
	for i := range 2 {
		if status, body := slackSend(t, b.URL, "/slack/events", "application/json", string(event), 0, signingSecret); status != 200 {
			t.Fatalf("event delivery %d: HTTP %d %s", i, status, body)
		}
	}
	click(t, b.URL, "U0CAPTAIN", channel, "incident_resolve", "1")

	var tl []entryJSON
	waitFor(t, 15*time.Second, "the pinned message on the timeline", func() bool {
		b.getJSON(t, "/api/v1/incidents/1/timeline", "", &tl)
		return countKinds(tl)["pinned"] > 0
	})
	kinds := countKinds(tl)
	if kinds["acknowledged"] != 1 || kinds["runbook_step"] != 1 || kinds["pinned"] != 1 || kinds["resolved"] != 1 {
		t.Errorf("timeline kinds %v, want one each of acknowledged, runbook_step, pinned (despite the retry), resolved\n%s", kinds, dumpTimeline(tl))
	}
	for _, e := range tl {
		if e.Kind == "pinned" && !strings.Contains(e.Text, "1.9 GB") {
			t.Errorf("pinned entry %q lacks the message text", e.Text)
		}
	}
	var inc map[string]any
	b.getJSON(t, "/api/v1/incidents/1", "", &inc)
	if inc["acknowledged_by"] != "U0ATEAM" || inc["status"] != "resolved" {
		t.Errorf("incident acknowledged_by %v status %v, want U0ATEAM and resolved", inc["acknowledged_by"], inc["status"])
	}
	waitFor(t, 15*time.Second, "the incident message edited in place", func() bool {
		msgs := slack.Messages(channel)
		return len(msgs) > 0 && msgs[0].Edits > 0 && strings.Contains(msgs[0].Blocks, "resolved")
	})
}
