package webhooks

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
)

// slowSilencer answers after release is closed, or fails with fail.
type slowSilencer struct {
	release chan struct{}
	fail    error
	mu      sync.Mutex
	calls   int
}

func (f *slowSilencer) Silence(ctx context.Context, _ string, s bot.Silence) (string, string, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	select {
	case <-f.release:
	case <-ctx.Done():
		return "", "", ctx.Err()
	}
	if f.fail != nil {
		return "", "", f.fail
	}
	return "5a1e7c3e-0000-4000-8000-000000000001", "http://am-2:9093", nil
}

func (f *slowSilencer) Expire(context.Context, string, string) error { return f.fail }
func (f *slowSilencer) Firing(context.Context, string, string, []bot.Matcher, string) ([]string, error) {
	return []string{"still"}, f.fail
}

// loopServer is a server whose service has sil as its Alertmanager, over
// e's store, with e's incident and channel.
func loopServer(t *testing.T, e *env, sil bot.Silencer) *Server {
	svc := bot.NewService(e.store, bot.Options{Now: func() time.Time { return e.now }, Chat: true, Silencer: sil})
	srv := New(Config{Service: svc, SigningSecret: testSecret, PublicURL: "https://bot.example.com", Log: e.srv.log})
	srv.replies.allow = func(*url.URL) bool { return true }
	t.Cleanup(srv.Close)
	return srv
}

func TestSilenceAnswersAtOnceAndRepliesLater(t *testing.T) {
	e := newEnv(t)
	rc := newReplyCatcher(t, e)
	inc := e.openIncident()
	sil := &slowSilencer{release: make(chan struct{})}
	srv := loopServer(t, e, sil)
	cmd := slack.SlashCommand{Command: "/incident", Text: "silence 45m rolling back", UserID: "U0BOB", UserName: "bob",
		ChannelID: testChannel, ResponseURL: rc.srv.URL}

	// The answer comes while Alertmanager has not answered yet.
	reply := srv.Command(context.Background(), cmd)
	if reply.ResponseType != Ephemeral || !strings.Contains(reply.Text, "45m") || !strings.Contains(reply.Text, inc.Key()) {
		t.Fatalf("first answer = %+v", reply)
	}
	if m := rc.next(100 * time.Millisecond); m != nil {
		t.Fatalf("a reply came before Alertmanager answered: %v", m)
	}
	close(sil.release)
	m := rc.next(5 * time.Second)
	if m == nil {
		t.Fatal("no reply after Alertmanager answered")
	}
	text, _ := m["text"].(string)
	for _, w := range []string{"5a1e7c3e", "http://am-2:9093", `alertname="MemoryLeak"`, "UTC"} {
		if !strings.Contains(text, w) {
			t.Errorf("reply %q does not say %q", text, w)
		}
	}
	got, _ := srv.svc.Incident(context.Background(), inc.ID)
	if len(got.Silences) != 1 || got.Silences[0].CreatedBy != "bob" || got.Silences[0].EndsAt.Sub(got.Silences[0].StartsAt) != 45*time.Minute {
		t.Errorf("recorded %+v", got.Silences)
	}
	if !strings.Contains(got.Silences[0].Comment, "https://bot.example.com/api/v1/incidents/1") {
		t.Errorf("comment %q does not link the incident", got.Silences[0].Comment)
	}
}

func TestSilenceUnreachableSaysNothingWasSilenced(t *testing.T) {
	e := newEnv(t)
	rc := newReplyCatcher(t, e)
	inc := e.openIncident()
	sil := &slowSilencer{release: make(chan struct{}), fail: errors.New("could not reach Alertmanager: http://am-1:9093 (connection refused)")}
	close(sil.release)
	srv := loopServer(t, e, sil)
	cmd := slack.SlashCommand{Command: "/incident", Text: "silence", UserID: "U0BOB", ChannelID: testChannel, ResponseURL: rc.srv.URL}
	srv.Command(context.Background(), cmd)
	m := rc.next(5 * time.Second)
	text, _ := m["text"].(string)
	if !strings.Contains(text, "am-1:9093") || !strings.Contains(text, "nothing was silenced") {
		t.Errorf("reply %q must name the peer and say nothing was silenced", text)
	}
	got, _ := srv.svc.Incident(context.Background(), inc.ID)
	if len(got.Silences) != 0 {
		t.Errorf("recorded a silence Alertmanager never took: %+v", got.Silences)
	}

	// A mistake is answered at once, without calling Alertmanager.
	cmd.Text = "unsilence"
	if r := srv.Command(context.Background(), cmd); !strings.Contains(r.Text, "Asking") {
		t.Fatalf("unsilence answer = %+v", r)
	}
	if m := rc.next(5 * time.Second); m == nil || !strings.Contains(m["text"].(string), "no active silence") {
		t.Errorf("unsilence with nothing silenced: reply %v", m)
	}
	cmd.Text = "silence 9d"
	if r := srv.Command(context.Background(), cmd); !strings.Contains(r.Text, "from 1m to 7d") {
		t.Errorf("silence 9d: %+v", r)
	}
	if sil.calls != 1 {
		t.Errorf("Alertmanager was called %d times, want 1", sil.calls)
	}
}
