package slack_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/slack"
	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

func methods(calls []slacktesting.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Method)
	}
	return out
}

func TestOpenSetsUpTheChannel(t *testing.T) {
	e := newEnv(t, func(o *slack.Options) {
		o.RespondersFor = func(l map[string]string) []string {
			if l["service"] == "checkout" {
				return []string{"<@U300>", "U100"}
			}
			return nil
		}
	})
	e.start()
	id := e.fire("HighErrorRate", "checkout", 2)
	e.settle()

	inc := e.incident(id)
	ch, ok := e.slack.Channel("inc-1-high-error-rate-on-checkout")
	if !ok || inc.ChannelID != ch.ID || inc.ChannelName != ch.Name {
		t.Fatalf("channel: stored %q %q, Slack has %+v", inc.ChannelID, inc.ChannelName, e.slack.Channels())
	}
	if want := "SEV1 · investigating · INC-1 HighErrorRate on checkout"; ch.Topic != want {
		t.Errorf("topic: got %q, want %q", ch.Topic, want)
	}
	if want := []string{slacktesting.BotUserID, "U100", "U200", "U300"}; !slices.Equal(ch.Members, want) {
		t.Errorf("members: got %v, want %v", ch.Members, want)
	}
	msgs := e.slack.Messages(ch.ID)
	if len(msgs) != 3 || msgs[0].TS != inc.MessageTS || !strings.Contains(msgs[0].Blocks, `"incident_ack"`) ||
		!strings.Contains(msgs[1].Blocks, `"1:HighErrorRate:3"`) || msgs[1].ThreadTS != inc.MessageTS ||
		msgs[2].Text != runbookNoteText || msgs[2].ThreadTS != "" {
		t.Errorf("channel messages: want the incident message, the checklist in its thread and the note in the channel; got %+v", msgs)
	}
	head := e.slack.Messages(e.announce)
	if len(head) != 1 || head[0].TS != inc.HeadlineTS || !strings.Contains(head[0].Blocks, `\u003c#`+ch.ID+`\u003e`) {
		t.Errorf("headline: got %+v", head)
	}
	if len(ch.Bookmarks) != 1 || ch.Bookmarks[0].Link != "https://incidentbot.example.com/incidents/1#postmortem" {
		t.Errorf("bookmarks: got %+v", ch.Bookmarks)
	}
	want := []string{"conversations.create", "conversations.setPurpose", "conversations.setTopic", "conversations.invite",
		"chat.postMessage", "pins.add", "chat.postMessage", "bookmarks.add", "chat.postMessage", "chat.postMessage"}
	if got := methods(e.slack.Calls()); !slices.Equal(got, want) {
		t.Errorf("calls: got %v, want %v", got, want)
	}
	if pins := e.slack.OK("pins.add"); len(pins) != 1 || pins[0].Params.Get("timestamp") != inc.MessageTS {
		t.Errorf("pins: got %+v, want the incident message %s pinned", pins, inc.MessageTS)
	}
	for kind, want := range map[bot.Kind][]string{
		bot.KindChannelCreated:    {"channel #inc-1-high-error-rate-on-checkout created"},
		bot.KindRespondersInvited: {"responders invited: <@U100>, <@U200>, <@U300>"},
		bot.KindRunbookPosted:     {"runbook HighErrorRate posted (3 steps)"},
		bot.KindDeliveryFailed:    nil,
	} {
		if got := e.entries(id, kind); !slices.Equal(got, want) {
			t.Errorf("%s entries: got %q, want %q", kind, got, want)
		}
	}
}

func TestRefreshEditsOnlyWhatChanged(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	id := e.fire("HighErrorRate", "checkout", 1)
	e.settle()
	inc := e.incident(id)
	ctx := context.Background()
	before := len(e.slack.Calls())

	_, err := e.svc.Apply(ctx, id, bot.Action{Op: bot.OpAck, Actor: "<@U100>"})
	e.must(err)
	e.settle()
	if got, want := methods(e.slack.Calls()[before:]), []string{"chat.update", "chat.postMessage"}; !slices.Equal(got, want) {
		t.Errorf("after ack: calls %v, want %v (headline and topic show no acknowledgement)", got, want)
	}
	msgs := e.slack.Messages(inc.ChannelID)
	if m := msgs[0]; m.Edits != 1 || strings.Contains(m.Blocks, `"incident_ack"`) {
		t.Errorf("incident message after ack: %d edits, blocks %s", m.Edits, m.Blocks)
	}
	if last := msgs[len(msgs)-1].Text; !regexp.MustCompile(`^• acknowledged by <@U100> — \d\d:\d\d UTC$`).MatchString(last) {
		t.Errorf("change post: got %q", last)
	}

	before = len(e.slack.Calls())
	_, err = e.svc.Apply(ctx, id, bot.Action{Op: bot.OpRunbookStep, Actor: "<@U200>", Runbook: "HighErrorRate", Step: 2})
	e.must(err)
	e.settle()
	if got, want := methods(e.slack.Calls()[before:]), []string{"chat.update"}; !slices.Equal(got, want) {
		t.Errorf("after a step: calls %v, want %v (the checklist edited, no message per tick)", got, want)
	}
	rb := e.slack.Messages(inc.ChannelID)[1]
	if rb.Edits != 1 || !strings.Contains(rb.Blocks, "1/3 done") || !strings.Contains(rb.Text, "1/3 done") {
		t.Errorf("runbook message: %d edits, %s", rb.Edits, rb.Text)
	}

	before = len(e.slack.Calls())
	_, err = e.svc.Apply(ctx, id, bot.Action{Op: bot.OpStatus, Status: bot.StatusMonitoring, Actor: "<@U100>"})
	e.must(err)
	e.settle()
	want := []string{"chat.update", "chat.update", "conversations.setTopic", "chat.postMessage"}
	if got := methods(e.slack.Calls()[before:]); !slices.Equal(got, want) {
		t.Errorf("after a status: calls %v, want %v", got, want)
	}
	if head := e.slack.Messages(e.announce)[0]; head.Edits != 1 || !strings.Contains(head.Text, "monitoring") {
		t.Errorf("headline: %+v", head)
	}
}

func TestTakenNameGetsSuffix(t *testing.T) {
	e := newEnv(t, nil)
	e.slack.AddChannel("inc-1-db-down", true) // archived, from an earlier install
	e.start()
	inc, err := e.svc.Declare(context.Background(), "DB down", bot.SEV2, "<@U900>", time.Time{})
	e.must(err)
	e.settle()
	if got := e.incident(inc.ID).ChannelName; got != "inc-1-db-down-2" {
		t.Errorf("channel: got %q, want inc-1-db-down-2", got)
	}
	ch, _ := e.slack.Channel("inc-1-db-down-2")
	if !slices.Contains(ch.Members, "U900") {
		t.Errorf("the declarer was not invited: %v", ch.Members)
	}
}

func TestLostCreateAnswerTakesOverTheChannel(t *testing.T) {
	e := newEnv(t, nil)
	// Slack creates the channel, but its answer is lost.
	e.slack.Fail("conversations.create", 1, slacktesting.Fault{Status: 504, Lost: true})
	e.start()
	id := e.fire("HighErrorRate", "checkout", 1)
	e.settle()
	var ours []string
	for _, c := range e.slack.Channels() {
		if strings.HasPrefix(c.Name, "inc-1") {
			ours = append(ours, c.Name)
		}
	}
	if len(ours) != 1 || e.incident(id).ChannelName != ours[0] {
		t.Errorf("channels: got %v, stored %q", ours, e.incident(id).ChannelName)
	}
	if got := e.entries(id, bot.KindChannelCreated); len(got) != 1 {
		t.Errorf("channel_created entries: %q", got)
	}
}

// TestFreshDatabaseDoesNotTakeOverAnotherChannel: a workspace already
// holds the live inc-1-... channel the bot made a minute ago for another
// database's INC-1. A fresh database's INC-1 gets inc-1-...-2, and keeps
// its own identity in its purpose.
func TestFreshDatabaseDoesNotTakeOverAnotherChannel(t *testing.T) {
	for name, purpose := range map[string]string{
		"with another database's identity": "INC-1 HighErrorRate on checkout · incidentbot:0123456789abcdef",
		"made before identities":           "",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			old := e.slack.AddBotChannel("inc-1-high-error-rate-on-checkout", purpose, time.Minute)
			e.start()
			id := e.fire("HighErrorRate", "checkout", 1)
			e.settle()
			inc := e.incident(id)
			if inc.ChannelID == old || inc.ChannelName != "inc-1-high-error-rate-on-checkout-2" {
				t.Fatalf("the fresh incident took channel %s %q, want a new inc-1-...-2", inc.ChannelID, inc.ChannelName)
			}
			ch, _ := e.slack.Channel(inc.ChannelName)
			if !strings.Contains(ch.Purpose, "incidentbot:") || strings.Contains(ch.Purpose, "0123456789abcdef") {
				t.Errorf("purpose of the new channel: %q", ch.Purpose)
			}
			if msgs := e.slack.Messages(old); len(msgs) != 0 {
				t.Errorf("the other database's channel got %d messages", len(msgs))
			}
		})
	}
}

func TestPostmortemIsUploaded(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	id := e.fire("HighErrorRate", "checkout", 1)
	e.settle()
	e.must(e.svc.Request(context.Background(), id, bot.DeliveryPostmortem, "", "<@U100>"))
	e.settle()
	files := e.slack.Files()
	if len(files) != 1 {
		t.Fatalf("files: %+v", files)
	}
	f := files[0]
	if f.Name != "inc-1-postmortem.md" || f.Channel != e.incident(id).ChannelID ||
		!strings.HasPrefix(string(f.Content), "# Postmortem Report: INC-1 HighErrorRate on checkout") ||
		!strings.Contains(f.Comment, "<@U100>") {
		t.Errorf("file: %s in %s, comment %q, content %.80q", f.Name, f.Channel, f.Comment, f.Content)
	}
	want := []string{"files.getUploadURLExternal", "upload", "files.completeUploadExternal"}
	if got := methods(e.slack.Calls(want...)); !slices.Equal(got, want) {
		t.Errorf("upload calls: %v", got)
	}
	if got := e.entries(id, bot.KindPostmortemExported); len(got) != 1 {
		t.Errorf("postmortem_exported entries: %q", got)
	}
}

// TestPostmortemRefreshReplacesTheFile: the draft in the channel is one
// file. A refresh (the domain's, after the incident changed) or a second
// export uploads the draft as it is and deletes the earlier file; a
// delete that fails for a moment is tried again without uploading twice,
// and a file gone already counts as deleted.
func TestPostmortemRefreshReplacesTheFile(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	ctx := context.Background()
	id := e.fire("HighErrorRate", "checkout", 1)
	e.settle()
	e.must(e.svc.Request(ctx, id, bot.DeliveryPostmortem, "", "<@U100>"))
	e.settle()
	_, err := e.svc.Apply(ctx, id, bot.Action{Op: bot.OpNote, Actor: "U100", Text: "rolled back deploy 4411"})
	e.must(err)
	e.settle()
	e.must(e.store.Update(ctx, func(tx bot.Tx) error { // what the domain's draft timer enqueues
		return tx.Enqueue(&bot.Delivery{IncidentID: id, Kind: bot.DeliveryPostmortem, Ref: bot.DraftRefreshRef, CreatedAt: e.clock.Now()})
	}))
	e.settle()
	live := func() []slacktesting.File {
		var out []slacktesting.File
		for _, f := range e.slack.Files() {
			if !f.Deleted {
				out = append(out, f)
			}
		}
		return out
	}
	files := e.slack.Files()
	if len(files) != 2 || !files[0].Deleted || files[1].Deleted {
		t.Fatalf("after a refresh: files %+v, want the first deleted and the second live", files)
	}
	if f := files[1]; !strings.Contains(string(f.Content), "rolled back deploy 4411") || !strings.Contains(f.Comment, "replaces the earlier upload") {
		t.Errorf("the refreshed draft: comment %q, content lacks the later note: %v", f.Comment, !strings.Contains(string(f.Content), "rolled back"))
	}
	if dels := e.slack.OK("files.delete"); len(dels) != 1 || dels[0].Params.Get("file") != files[0].ID {
		t.Errorf("files.delete calls: %+v", dels)
	}
	for _, m := range e.slack.Messages(e.incident(id).ChannelID) {
		if slices.Contains(m.Files, files[0].ID) {
			t.Errorf("a message still shares the deleted file: %+v", m)
		}
	}

	// Exported again while files.delete fails for a moment: one upload.
	e.slack.Fail("files.delete", 1, slacktesting.Fault{Status: http.StatusInternalServerError, Error: "internal_error"})
	e.must(e.svc.Request(ctx, id, bot.DeliveryPostmortem, "", "<@U200>"))
	e.settle()
	if n := len(e.slack.OK("files.completeUploadExternal")); n != 3 {
		t.Errorf("%d uploads, want 3 (a retried delete uploads nothing)", n)
	}
	if l := live(); len(l) != 1 || l[0].ID != e.slack.Files()[2].ID {
		t.Errorf("live files after the third upload: %+v", l)
	}
	// Someone deleted the draft by hand: the next refresh still goes on.
	e.must(e.store.Update(ctx, func(tx bot.Tx) error {
		return tx.Enqueue(&bot.Delivery{IncidentID: id, Kind: bot.DeliveryPostmortem, Ref: bot.DraftRefreshRef, CreatedAt: e.clock.Now()})
	}))
	e.slack.Fail("files.delete", 1, slacktesting.Fault{Error: "file_not_found"})
	e.settle()
	if l := live(); len(l) != 2 { // the third was not deleted by the fault; the fourth is live
		t.Errorf("live files: %d, want 2", len(l))
	}
	if got := e.entries(id, bot.KindPostmortemExported); len(got) != 4 {
		t.Errorf("postmortem_exported entries: %q", got)
	}
	if got := e.entries(id, bot.KindDeliveryFailed); len(got) != 0 {
		t.Errorf("delivery_failed entries: %q", got)
	}
}

func TestPinRecordsMessages(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	id := e.fire("HighErrorRate", "checkout", 1)
	e.settle()
	ch := e.incident(id).ChannelID
	top := e.slack.AddMessage(ch, "U200", "rolling back to v41", "")
	reply := e.slack.AddMessage(ch, "U300", "error rate is back to normal", top)
	ctx := context.Background()
	e.must(e.svc.Request(ctx, id, bot.DeliveryPin, top, "<@U100>"))
	e.must(e.svc.Request(ctx, id, bot.DeliveryPin, reply, "<@U200>"))
	e.settle()
	var got []string
	for _, en := range e.timeline(id) {
		if en.Kind == bot.KindPinned {
			got = append(got, en.Actor+" "+en.Text)
		}
	}
	want := []string{"U100 <@U200>: rolling back to v41", "U200 <@U300>: error rate is back to normal"}
	if !slices.Equal(got, want) {
		t.Errorf("pinned entries: got %q, want %q", got, want)
	}
	for _, m := range e.slack.Messages(ch) {
		if (m.TS == top || m.TS == reply) && !m.Pinned {
			t.Errorf("message %s was not pinned in Slack", m.TS)
		}
	}
}

// runbookNoteText is the channel's note about the test runbook matched
// when an incident opens.
const runbookNoteText = "📋 Runbook `HighErrorRate` is in the thread of the incident message (matches the alerts). Mark its steps Done, Skip or Undo there; the checklist shows who and when."

func TestRunbookRequests(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	inc, err := e.svc.Declare(context.Background(), "something odd", bot.SEV3, "<@U100>", time.Time{})
	e.must(err)
	e.settle()
	ctx := context.Background()
	e.must(e.svc.Request(ctx, inc.ID, bot.DeliveryRunbook, "", "<@U100>"))
	e.must(e.svc.Request(ctx, inc.ID, bot.DeliveryRunbook, "HighErrorRate", "<@U100>"))
	e.must(e.svc.Request(ctx, inc.ID, bot.DeliveryRunbook, "nope", "<@U100>"))
	e.settle()
	msgs := e.messages(e.incident(inc.ID).ChannelID)
	if len(msgs) != 4 || !strings.HasPrefix(msgs[1], "No runbook matches the alerts of INC-1") ||
		!strings.HasPrefix(msgs[2], "Runbook High error rate: 0/3 done") ||
		!strings.Contains(msgs[3], "`HighErrorRate` is in the thread of the incident message (posted by <@U100> with `/incident runbook`)") {
		t.Errorf("messages: %q", msgs)
	}
	failed := e.entries(inc.ID, bot.KindDeliveryFailed)
	if len(failed) != 1 || failed[0] != `could not post runbook nope: not found: no runbook named "nope"` {
		t.Errorf("delivery_failed: %q", failed)
	}
}
