package slack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

func pageIncident() *bot.Incident {
	return &bot.Incident{ID: 12, Title: "Checkout <!channel> & co", Severity: bot.SEV1, Status: bot.StatusInvestigating,
		Alerts: []bot.Alert{
			{Status: bot.AlertFiring, Labels: map[string]string{"alertname": "HighErrorRate"}, Annotations: map[string]string{"summary": "5xx at <b>40%</b>"}},
			{Status: bot.AlertFiring, Labels: map[string]string{"alertname": "HighLatency"}},
		}}
}

func TestSlackPagerDM(t *testing.T) {
	srv := slacktesting.New()
	defer srv.Close()
	c := New("xoxb-t", Options{APIURL: srv.APIURL(), Limits: &Limits{}})
	p := c.Pager()
	m := bot.PageMessage{Incident: pageIncident(), Page: bot.Page{ID: 34, IncidentID: 12, Team: "payments", Step: 2, Round: 1,
		Target: "U0ALICE", Via: bot.ViaSlack, Message: "<@U0X> look *now*"}, Chat: map[string]bot.ChatRecord{Adapter: {Room: "C0INC"}}}
	if err := p.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	dm := srv.IM("U0ALICE")
	if len(dm) != 1 {
		t.Fatalf("DMs to U0ALICE: %d, want 1", len(dm))
	}
	b := dm[0].Blocks
	for _, want := range []string{
		`"action_id":"page_ack"`, `"value":"12:34"`, `Acknowledge`, `Open channel`, `https://slack.com/app_redirect?channel=C0INC`,
		`SEV1 INC-12: Checkout \u0026lt;!channel\u0026gt; \u0026amp; co`, `team *payments*, step 2 (repeat 1)`,
		`5xx at \u0026lt;b\u0026gt;40%\u0026lt;/b\u0026gt; (and 1 more firing)`, `\u003c@U0X\u003e look *now*`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("DM blocks lack %s:\n%s", want, b)
		}
	}
	if strings.Contains(b, "<!channel>") || strings.Contains(dm[0].Text, "<!channel>") {
		t.Errorf("the title reached Slack unescaped: %s", dm[0].Text)
	}

	// A channel target gets a post without the Acknowledge button.
	ch := srv.AddChannel("payments", false)
	m.Page.Target, m.Page.Channel = ch, true
	if err := p.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	posts := srv.Messages(ch)
	if len(posts) != 1 || strings.Contains(posts[0].Blocks, "page_ack") || !strings.Contains(posts[0].Blocks, "This channel is paged") {
		t.Errorf("channel page = %+v", posts)
	}
	// A channel that does not exist is a permanent failure.
	m.Page.Target = "C0GONE"
	if err := p.Send(context.Background(), m); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("paging a missing channel: %v, want ErrNotFound", err)
	}
}

func TestInviteThePaged(t *testing.T) {
	srv := slacktesting.New()
	defer srv.Close()
	c := New("xoxb-t", Options{APIURL: srv.APIURL(), Limits: &Limits{}})
	ch := srv.AddChannel("inc-12", false)
	inc := pageIncident()
	res, err := c.Deliver(context.Background(), inc, bot.ChatRecord{Room: ch}, bot.Delivery{Kind: bot.DeliveryInvite, Ref: "U0ALICE,U0BOB,not-a-user"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := srv.Channel(ch)
	if strings.Join(res.Invited, ",") != "<@U0ALICE>,<@U0BOB>" || !strings.Contains(strings.Join(got.Members, ","), "U0ALICE,U0BOB") {
		t.Errorf("invited %v, members %v", res.Invited, got.Members)
	}
	if res, err := c.Deliver(context.Background(), inc, bot.ChatRecord{}, bot.Delivery{Kind: bot.DeliveryInvite, Ref: "U0ALICE"}); err != nil || len(res.Invited) != 0 {
		t.Errorf("without a channel: %+v %v", res, err)
	}
}

func TestHandOff(t *testing.T) {
	srv := slacktesting.New()
	defer srv.Close()
	c := New("xoxb-t", Options{APIURL: srv.APIURL(), Limits: &Limits{}})
	ch := srv.AddChannel("payments", false)
	h := bot.HandOff{Team: "payments", UserGroup: "S0PAY", Users: []string{"U0BOB", "U0CAROL"}, Channel: ch,
		Text: "Hand-off for payments: primary <@U0BOB> (was <@U0ALICE>); no open incidents."}
	if err := c.HandOff(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if got := srv.UserGroup("S0PAY"); strings.Join(got, ",") != "U0BOB,U0CAROL" {
		t.Errorf("user group = %v", got)
	}
	if posts := srv.Messages(ch); len(posts) != 1 || posts[0].Text != h.Text {
		t.Errorf("posts = %+v", posts)
	}
	srv.Fail("usergroups.users.update", 1, slacktesting.APIError("permission_denied"))
	if err := c.HandOff(context.Background(), h); err == nil {
		t.Error("a refused user group update was not reported")
	}
}

// Slack refuses a message whose text passes 40,000 characters
// (msg_too_long, a permanent failure): a title made of huge label values
// must not cost the person their DM page.
func TestPageFitsSlackLimitsWithAHugeTitle(t *testing.T) {
	inc := pageIncident()
	inc.Title = strings.Repeat("<&x", 20000)
	text, blocks := pageBlocks(bot.PageMessage{Incident: inc, Page: bot.Page{ID: 1, Target: "U0A", Via: bot.ViaSlack, Team: "payments", Step: 1}})
	if n := len([]rune(text)); n > 4000 {
		t.Errorf("fallback text is %d characters", n)
	}
	for _, b := range blocks {
		if s, ok := b.(*slackgo.SectionBlock); ok && len([]rune(s.Text.Text)) > maxSectionText {
			t.Errorf("a section holds %d characters, over Slack's %d", len([]rune(s.Text.Text)), maxSectionText)
		}
	}
}

// A grouped page (a storm) is one DM: its incidents listed, bot.PageListed
// by name and the rest counted, with one Acknowledge for all.
func TestSlackPagerGroupedDM(t *testing.T) {
	srv := slacktesting.New()
	defer srv.Close()
	c := New("xoxb-t", Options{APIURL: srv.APIURL(), Limits: &Limits{}})
	m := bot.PageMessage{Incident: pageIncident(), Page: bot.Page{ID: 34, IncidentID: 12, Team: "payments", Step: 1, Target: "U0ALICE", Via: bot.ViaSlack},
		Chat: map[string]bot.ChatRecord{Adapter: {Room: "C0INC"}}}
	for i := range 11 {
		inc := pageIncident()
		inc.ID, inc.Severity = int64(13+i), bot.SEV2
		m.Also = append(m.Also, bot.PageItem{Incident: inc, Page: bot.Page{ID: uint64(40 + i), IncidentID: inc.ID, Team: "payments", Step: 1, Target: "U0ALICE", Via: bot.ViaSlack}})
	}
	if err := c.Pager().Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	dm := srv.IM("U0ALICE")
	if len(dm) != 1 {
		t.Fatalf("DMs to U0ALICE: %d, want 1", len(dm))
	}
	b := dm[0].Blocks
	for _, want := range []string{`You are paged for 12 incidents`, `• SEV1 INC-12: Checkout \u0026lt;!channel\u0026gt; \u0026amp; co (team *payments*, step 1) \u003c#C0INC\u003e`,
		`• SEV2 INC-21:`, `…and 2 more`, `"value":"12:34"`, `Acknowledge all 12`} {
		if !strings.Contains(b, want) {
			t.Errorf("DM blocks lack %s:\n%s", want, b)
		}
	}
	if strings.Contains(b, "INC-22") || strings.Contains(b, "<!channel>") {
		t.Errorf("DM lists past %d incidents, or unescaped:\n%s", bot.PageListed, b)
	}
	if want := "12 incidents (paged): INC-12, INC-13"; !strings.HasPrefix(dm[0].Text, want) || !strings.HasSuffix(dm[0].Text, "and 2 more") {
		t.Errorf("fallback text %q", dm[0].Text)
	}
}

// A page DM does not sleep in the client's rate limiter: the engine has
// recorded it "sending", and a kill during the wait would write it off
// unsent. Its turn not due, it comes back as a rate limit at once.
func TestSlackPagerDoesNotWaitForItsTurn(t *testing.T) {
	srv := slacktesting.New()
	defer srv.Close()
	c := New("xoxb-t", Options{APIURL: srv.APIURL(), Limits: &Limits{Post: Rate{Every: 5 * time.Second, Burst: 1}, MaxWait: 10 * time.Second}})
	m := bot.PageMessage{Incident: pageIncident(), Page: bot.Page{ID: 34, IncidentID: 12, Team: "payments", Step: 1, Target: "U0ALICE", Via: bot.ViaSlack}}
	if err := c.Pager().Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	err := c.Pager().Send(context.Background(), m)
	var ra *bot.RetryAfterError
	if !errors.As(err, &ra) || ra.After <= 0 || ra.After > 5*time.Second {
		t.Errorf("second DM within the rate: %v, want a rate limit (not a wait and a send)", err)
	}
	if n := len(srv.IM("U0ALICE")); n != 1 {
		t.Errorf("%d DMs, want 1", n)
	}
}
