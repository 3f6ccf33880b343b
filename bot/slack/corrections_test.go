package slack_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/slack"
)

// TestChangePostsCarryEntryMenus: each line of a change post has the menu
// that corrects its entry, with a value naming incident and entry.
func TestChangePostsCarryEntryMenus(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	id := e.fire("HighErrorRate", "checkout", 1)
	e.settle()
	_, err := e.svc.Apply(context.Background(), id, bot.Action{Op: bot.OpNote, Actor: "U100", Text: "rolling back <!channel>"})
	e.must(err)
	e.settle()
	msgs := e.slack.Messages(e.incident(id).ChannelID)
	last := msgs[len(msgs)-1]
	var note bot.TimelineEntry
	for _, en := range e.timeline(id) {
		if en.Kind == bot.KindNote {
			note = en
		}
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(last.Blocks), &blocks); err != nil || len(blocks) != 1 {
		t.Fatalf("change post blocks: %v %s", err, last.Blocks)
	}
	acc, _ := blocks[0]["accessory"].(map[string]any)
	opts, _ := acc["options"].([]any)
	if acc["action_id"] != bot.ActionEntryMenu || len(opts) != 2 ||
		opts[0].(map[string]any)["value"] != bot.EntryValue(id, note.ID, "edit") || opts[1].(map[string]any)["value"] != bot.EntryValue(id, note.ID, "strike") {
		t.Errorf("menu: %s", last.Blocks)
	}
	if text := blocks[0]["text"].(map[string]any)["text"].(string); strings.Contains(text, "<!channel>") || !strings.Contains(text, "&lt;!channel&gt;") {
		t.Errorf("the post's blocks do not escape the note: %s", last.Blocks)
	}
}

// TestCorrectionModalRoundTrip: what the modal shows, read back unchanged,
// corrects nothing; each changed field corrects only itself.
func TestCorrectionModalRoundTrip(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	inc := &bot.Incident{ID: 3}
	e := bot.TimelineEntry{ID: 9, At: time.Date(2024, 6, 20, 12, 10, 0, 0, time.UTC), Text: "teh deploy"}
	v := slack.CorrectionView(inc, e, berlin, false)
	raw, _ := json.Marshal(v)
	if !strings.Contains(string(raw), `"initial_value":"2024-06-20 14:10"`) || strings.Contains(string(raw), "initial_options") {
		t.Fatalf("view: %s", raw)
	}
	state := func(when, text string, struck bool) *slackgo.ViewState {
		s := &slackgo.ViewState{Values: map[string]map[string]slackgo.BlockAction{
			"when": {"when": {Value: when}}, "text": {"text": {Value: text}}, "strike": {"strike": {}}}}
		if struck {
			s.Values["strike"]["strike"] = slackgo.BlockAction{SelectedOptions: []slackgo.OptionBlockObject{{Value: "struck"}}}
		}
		return s
	}
	if c := slack.CorrectionFrom(state("2024-06-20 14:10", "teh deploy", false), e, berlin, "U1"); c.When != "" || c.Text != nil || c.Struck != nil {
		t.Errorf("unchanged modal corrects %+v", c)
	}
	if c := slack.CorrectionFrom(state("2024-06-20 14:05", "teh deploy", true), e, berlin, "U1"); c.When != "2024-06-20 14:05" || c.Text != nil || c.Struck == nil || !*c.Struck {
		t.Errorf("time and strike: %+v", c)
	}
	if c := slack.CorrectionFrom(state("2024-06-20 14:10", "the deploy", false), e, berlin, "U1"); c.Text == nil || *c.Text != "the deploy" || c.When != "" {
		t.Errorf("text: %+v", c)
	}
}
