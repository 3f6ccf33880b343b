package slack

import (
	"testing"
	"time"
)

// TestEscape: the one mrkdwn path, with hostile input. Each case would
// page the workspace, disguise a link, hide or reorder text, or show
// Slack's own escaping twice.
func TestEscape(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"mention kept", "acknowledged by <@U100>", "acknowledged by <@U100>"},
		{"labelled mentions kept", "lead <@U100|ann> in <#C123|inc-1>", "lead <@U100|ann> in <#C123|inc-1>"},
		{"@channel", "<!channel> wake up", "&lt;!channel&gt; wake up"},
		{"user group and @here", "<!subteam^S1|@oncall> and <!here>", "&lt;!subteam^S1|@oncall&gt; and &lt;!here&gt;"},
		{"comparison", "latency < 5ms & rising > 3", "latency &lt; 5ms &amp; rising &gt; 3"},
		{"disguised link", "<https://evil.example|click>", "&lt;https://evil.example|click&gt;"},
		{"link in a mention label", "<@U1|x <https://evil.example|y>>", "&lt;@U1|x &lt;https://evil.example|y&gt;&gt;"},
		{"typed in Slack", "typed in Slack: a &lt; b &amp;&amp; c", "typed in Slack: a &lt; b &amp;&amp; c"},
		{"NUL and terminal escapes", "ok\x00\x1b[31mred\x07", "ok[31mred"},
		{"bidi override", "admin\u202egnp.exe", "admingnp.exe"},
		{"zero width", "<!chan\u200bnel>", "&lt;!channel&gt;"},
		{"newlines stay", "line one\r\nline two", "line one\nline two"},
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("%s: Escape(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestLink(t *testing.T) {
	for _, tc := range []struct{ url, label, want string }{
		{"https://a.example/x?y=1&z=2", "src", "<https://a.example/x?y=1&amp;z=2|src>"},
		{"http://h:9090/g?q=a|b>c", "<b>", "<http://h:9090/g?q=a%7Cb%3Ec|&lt;b&gt;>"},
		{"javascript:alert(1)", "x", ""},
		{"/relative", "x", ""},
		{"", "x", ""},
		{"https://", "x", ""},
	} {
		if got := link(tc.url, tc.label); got != tc.want {
			t.Errorf("link(%q, %q): got %q, want %q", tc.url, tc.label, got, tc.want)
		}
	}
}

func TestUserID(t *testing.T) {
	for in, want := range map[string]string{
		"U100": "U100", "<@U100>": "U100", "<@W2ABC|ann>": "W2ABC", " <@U100> ": "U100",
		"ann": "", "@ann": "", "alertmanager": "", "<#C100>": "", "": "", "u100": "",
	} {
		if got := userID(in); got != want {
			t.Errorf("userID(%q): got %q, want %q", in, got, want)
		}
	}
	if got := mention("Ann <ops>"); got != "Ann &lt;ops&gt;" {
		t.Errorf("mention of a name: got %q", got)
	}
}

func TestParseTS(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1718892300.123456":      time.Unix(1718892300, 123456000).UTC(),
		"1718892300":             time.Unix(1718892300, 0).UTC(),
		"1718892300.5":           time.Unix(1718892300, 500000000).UTC(),
		"x.1":                    {},
		"":                       {},
		"99999999999999999999.1": {},
		"-5.000001":              {},
	} {
		if got := parseTS(in); !got.Equal(want) {
			t.Errorf("parseTS(%q): got %v, want %v", in, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	if got := clip("héllo wörld", 6); got != "hé…" {
		t.Errorf("clip: got %q", got)
	}
	if got := clip("short", 10); got != "short" {
		t.Errorf("clip: got %q", got)
	}
}
