package slack

import (
	"testing"

	"github.com/incidentbot/incidentbot/bot"
)

// TestStateReadsMovedRecords: the stores move the Slack fields of old
// incident records into this adapter's record verbatim (the channel as
// the room, the rest as Data under the old keys); State reads them back,
// and writes them the same way.
func TestStateReadsMovedRecords(t *testing.T) {
	rec := bot.ChatRecord{Room: "C1", RoomName: "inc-1-x",
		Data: []byte(`{"slack_message_ts":"1.1","slack_headline_ts":"2.2","chat":{"topic":"t","message_hash":"h1","runbooks":[{"name":"memory-leak","ts":"1.3","done":2,"steps":12}],"invited":["U1"],"steps":["pin"]}}`)}
	st, err := StateOf(rec)
	if err != nil {
		t.Fatal(err)
	}
	if st.ChannelID != "C1" || st.ChannelName != "inc-1-x" || st.MessageTS != "1.1" || st.HeadlineTS != "2.2" ||
		st.Chat.Topic != "t" || st.Chat.MessageHash != "h1" || !st.Chat.Did(stepPin) || len(st.Chat.Invited) != 1 {
		t.Errorf("state: got %+v", st)
	}
	if m, ok := st.Chat.Runbook("memory-leak"); !ok || m.TS != "1.3" || m.Steps != 12 {
		t.Errorf("runbook message: got %+v, %v", m, ok)
	}
	back, err := st.Record()
	if err != nil {
		t.Fatal(err)
	}
	again, err := StateOf(back)
	if err != nil || again.MessageTS != "1.1" || again.ChannelID != "C1" || again.Chat.Topic != "t" {
		t.Errorf("round trip: got %+v, %v", again, err)
	}
	if _, err := StateOf(bot.ChatRecord{Room: "C1", Data: []byte("{not json")}); err == nil {
		t.Errorf("StateOf of a broken record: no error")
	}
	if r, err := (State{}).Record(); err != nil || !r.IsZero() {
		t.Errorf("the zero state's record: %+v, %v; want the zero record", r, err)
	}
}
