package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigAccess(t *testing.T) {
	tests := []struct {
		yaml, wantAct, wantErr string
		admins                 int
	}{
		{"", "anyone", "", 0},
		{"access: {act: anyone}", "anyone", "", 0},
		{"access: {act: members, admins: [U0LEAD, '<@U0CTO|cto>']}", "members", "", 2},
		{"access: {act: everyone}", "", `access.act "everyone": want anyone or members`, 0},
		{"access: {act: members, admins: [bob]}", "", `access.admins[0] "bob"`, 0},
		{"access: {act: members, who: x}", "", "field who not found", 0},
	}
	for _, tt := range tests {
		c, err := loadConfigText(t, tt.yaml)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err %v, want %q", tt.yaml, err, tt.wantErr)
			}
			continue
		}
		if err != nil || c.Access.Act != tt.wantAct || len(c.Access.Admins) != tt.admins {
			t.Errorf("%q: %+v, %v", tt.yaml, c.Access, err)
		}
	}
}

func loadConfigText(t *testing.T, text string) (*config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return loadConfig(path)
}
