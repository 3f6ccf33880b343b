package hostallow

import (
	"net/netip"
	"testing"
)

func TestAdmitsAndDialable(t *testing.T) {
	l, err := Parse([]string{"prom.internal", "10.0.0.0/8", "0.0.0.0/0", "fe80::/10"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		ip   string // the address host resolved to; empty: only Admits
		want bool
	}{
		{"prom.internal", "", true},
		{"PROM.internal.", "", true},
		{"evil.example", "", false},
		{"10.1.2.3", "", true},
		{"8.8.8.8", "", true},
		{"169.254.169.254", "", false}, // 0.0.0.0/0 does not admit metadata
		{"127.0.0.1", "", false},       // nor loopback
		{"::ffff:169.254.169.254", "", false},
		{"[fe80::1]", "", true}, // fe80::/10 is listed on purpose
		{"prom.internal", "10.1.2.3", true},
		{"prom.internal", "127.0.0.1", false},
		{"prom.internal", "169.254.169.254", false},
		{"prom.internal", "::", false},
		{"prom.internal", "224.0.0.1", false},
	} {
		var got bool
		if tc.ip == "" {
			got = l.Admits(tc.host)
		} else {
			got = l.dialable(tc.host, netip.MustParseAddr(tc.ip))
		}
		if got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.host, tc.ip, got, tc.want)
		}
	}
	if !(List{}).Empty() || (List{}).Admits("127.0.0.1") {
		t.Error("the zero List must admit nothing")
	}
	for _, bad := range []string{"*.example.com", "http://x", "a b", ""} {
		if _, err := Parse([]string{bad}); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
