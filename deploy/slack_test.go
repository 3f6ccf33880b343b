package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// scopeOf maps each slack-go method bot/slack calls to the bot scope it
// needs. A method missing here fails the test: whoever adds a Slack call
// decides its scope, and the manifest follows.
var scopeOf = map[string]string{
	"AuthTestContext":                  "",
	"CreateConversationContext":        "channels:manage",
	"InviteUsersToConversationContext": "channels:manage",
	"SetTopicOfConversationContext":    "channels:manage",
	"GetConversationsContext":          "channels:read",
	"GetConversationHistoryContext":    "channels:history",
	"GetConversationRepliesContext":    "channels:history",
	"PostMessageContext":               "chat:write",
	"UpdateMessageContext":             "chat:write",
	"AddPinContext":                    "pins:write",
	"AddBookmarkContext":               "bookmarks:write",
	"UploadFileContext":                "files:write",
	"UpdateUserGroupMembersContext":    "usergroups:write",
	"GetUserInfoContext":               "users:read",
	"OpenViewContext":                  "", // views.open needs a trigger_id, no scope
	"GetUsersInConversationContext":    "channels:read",
	"SetPurposeOfConversationContext":  "channels:manage",
	"DeleteFileContext":                "files:write", // the bot's own earlier draft uploads
}

type slackManifest struct {
	Features struct {
		SlashCommands []struct {
			Command string `yaml:"command"`
			URL     string `yaml:"url"`
		} `yaml:"slash_commands"`
	} `yaml:"features"`
	OAuth struct {
		Scopes struct {
			Bot []string `yaml:"bot"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		Events struct {
			URL       string   `yaml:"request_url"`
			BotEvents []string `yaml:"bot_events"`
		} `yaml:"event_subscriptions"`
		Interactivity struct {
			Enabled bool   `yaml:"is_enabled"`
			URL     string `yaml:"request_url"`
		} `yaml:"interactivity"`
	} `yaml:"settings"`
}

// TestSlackManifestScopes checks that the manifest asks for exactly the
// scopes of the Slack methods the bot calls, plus the ones its inbound
// features need (the slash command, the :pushpin: reaction).
func TestSlackManifestScopes(t *testing.T) {
	var m slackManifest
	readYAML(t, "slack/app-manifest.yml", &m)
	want := map[string]bool{"commands": true, "reactions:read": true}
	call := regexp.MustCompile(`\.api\.([A-Za-z]+Context)\(`)
	for _, f := range globFiles(t, "../bot/slack/*.go") {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			scope, ok := scopeOf[m[1]]
			if !ok {
				t.Errorf("%s calls slack-go %s: add its scope to scopeOf and to the manifest", filepath.Base(f), m[1])
			}
			if scope != "" {
				want[scope] = true
			}
		}
	}
	var wantList []string
	for s := range want {
		wantList = append(wantList, s)
	}
	sort.Strings(wantList)
	got := slices.Clone(m.OAuth.Scopes.Bot)
	sort.Strings(got)
	if !slices.Equal(got, wantList) {
		t.Errorf("manifest bot scopes = %v, want exactly %v", got, wantList)
	}
}

func TestSlackManifestURLs(t *testing.T) {
	var m slackManifest
	readYAML(t, "slack/app-manifest.yml", &m)
	var cmds []string
	for _, c := range m.Features.SlashCommands {
		if !strings.HasSuffix(c.URL, "/slack/commands") {
			t.Errorf("%s is sent to %s, want .../slack/commands", c.Command, c.URL)
		}
		cmds = append(cmds, c.Command)
	}
	if !slices.Equal(cmds, []string{"/incident", "/oncall"}) {
		t.Errorf("slash commands = %v, want /incident and /oncall", cmds)
	}
	if !m.Settings.Interactivity.Enabled || !strings.HasSuffix(m.Settings.Interactivity.URL, "/slack/interactions") {
		t.Errorf("interactivity = %+v, want enabled at .../slack/interactions", m.Settings.Interactivity)
	}
	if !strings.HasSuffix(m.Settings.Events.URL, "/slack/events") || !slices.Contains(m.Settings.Events.BotEvents, "reaction_added") {
		t.Errorf("events = %+v, want reaction_added at .../slack/events", m.Settings.Events)
	}
}
