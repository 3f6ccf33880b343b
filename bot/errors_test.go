package bot

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"short", "abc", `"abc"`},
		{"exactly the limit", strings.Repeat("a", MaxQuoted), `"` + strings.Repeat("a", MaxQuoted) + `"`},
		{"long", strings.Repeat("a", 5000), `"` + strings.Repeat("a", MaxQuoted) + `"… (5000 bytes)`},
		{"cut inside a character", strings.Repeat("a", MaxQuoted-1) + "é…", `"` + strings.Repeat("a", MaxQuoted-1) + `"… (104 bytes)`},
		{"control characters stay escaped", "a\nb", `"a\nb"`},
	}
	for _, tt := range tests {
		got := Quote(tt.in)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("%s: Quote = %s, want %s", tt.name, got, tt.want)
		}
	}
}
