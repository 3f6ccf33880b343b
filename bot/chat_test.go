package bot

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

var channelNameRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func TestChannelName(t *testing.T) {
	long := strings.Repeat("database connection pool exhausted ", 5)
	for _, tc := range []struct {
		name    string
		prefix  string
		id      int64
		title   string
		attempt int
		want    string
	}{
		{"alert name", "inc", 7, "HighErrorRate", 1, "inc-7-high-error-rate"},
		{"alert on service", "inc", 7, "HighErrorRate on checkout", 1, "inc-7-high-error-rate-on-checkout"},
		{"acronyms", "inc", 1, "HTTPErrorsHigh", 1, "inc-1-http-errors-high"},
		{"digits", "inc", 1, "5xxErrors on S3Bucket", 1, "inc-1-5xx-errors-on-s3-bucket"},
		{"human title", "inc", 12, "Checkout is DOWN!!", 1, "inc-12-checkout-is-down"},
		{"accents folded", "inc", 3, "Café élevé: Straße naïve", 1, "inc-3-cafe-eleve-strasse-naive"},
		{"polish and czech", "inc", 3, "Łódź přetížení", 1, "inc-3-lodz-pretizeni"},
		{"apostrophes join", "inc", 3, "can't reach db’s replica", 1, "inc-3-cant-reach-dbs-replica"},
		{"emoji dropped", "inc", 4, "🔥 payments 🔥 on fire 🚒", 1, "inc-4-payments-on-fire"},
		{"cjk dropped", "inc", 5, "決済 down", 1, "inc-5-down"},
		{"nothing left", "inc", 6, "🔥🔥 ¿¡ 決済", 1, "inc-6"},
		{"empty title", "inc", 6, "", 1, "inc-6"},
		{"punctuation collapses", "inc", 8, "db -- down // (again)", 1, "inc-8-db-down-again"},
		{"underscores", "inc", 8, "kube_pod_crash_looping", 1, "inc-8-kube-pod-crash-looping"},
		{"taken once", "inc", 9, "db down", 2, "inc-9-db-down-2"},
		{"taken many", "inc", 9, "db down", 13, "inc-9-db-down-13"},
		{"custom prefix", "Ops_Incident", 9, "db", 1, "ops-incident-9-db"},
		{"blank prefix", "  ", 9, "db", 1, "inc-9-db"},
		{"emoji prefix", "🔥", 9, "db", 1, "inc-9-db"},
		{"long prefix cut", strings.Repeat("x", 50), 1, "db", 1, strings.Repeat("x", 20) + "-1-db"},
		{"long title cut at 80", "inc", 123, long, 1, "inc-123-" + strings.TrimRight(Slug(long)[:72], "-")},
		{"long title with suffix", "inc", 123, long, 10, "inc-123-" + strings.TrimRight(Slug(long)[:69], "-") + "-10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ChannelName(tc.prefix, tc.id, tc.title, tc.attempt)
			if got != tc.want {
				t.Errorf("ChannelName(%q, %d, %q, %d): got %q, want %q", tc.prefix, tc.id, tc.title, tc.attempt, got, tc.want)
			}
			if len(got) > MaxChannelName || !channelNameRE.MatchString(got) {
				t.Errorf("ChannelName(%q, %d, %q, %d) = %q: not a valid channel name", tc.prefix, tc.id, tc.title, tc.attempt, got)
			}
		})
	}
}

func FuzzChannelName(f *testing.F) {
	for _, s := range []string{"HighErrorRate", "Café 🔥", "", "---", "ÀÉÎÕÜ ßẞ"} {
		f.Add("inc", s, 1)
	}
	f.Fuzz(func(t *testing.T, prefix, title string, attempt int) {
		attempt = attempt%100 + 1
		if attempt < 1 {
			attempt = -attempt + 1
		}
		got := ChannelName(prefix, 4242, title, attempt)
		if len(got) > MaxChannelName || !channelNameRE.MatchString(got) {
			t.Errorf("ChannelName(%q, 4242, %q, %d) = %q: not a valid channel name", prefix, title, attempt, got)
		}
	})
}

func TestChannelTitle(t *testing.T) {
	inc := &Incident{Alerts: []Alert{{Labels: map[string]string{"alertname": "DiskFull"}}}}
	if got := ChannelTitle(inc); got != "DiskFull" {
		t.Errorf("untitled: got %q", got)
	}
	inc.Title = "DiskFull on db-1"
	if got := ChannelTitle(inc); got != inc.Title {
		t.Errorf("titled: got %q", got)
	}
}

func TestStepValue(t *testing.T) {
	v := StepValue(12, "db:failover", 3)
	id, rb, n, err := ParseStepValue(v)
	if err != nil || id != 12 || rb != "db:failover" || n != 3 {
		t.Errorf("ParseStepValue(%q): got %d %q %d %v", v, id, rb, n, err)
	}
	for _, bad := range []string{"", "12", "12:db", "x:db:3", "12::3", "12:db:0", "0:db:1", "12:db:x"} {
		if _, _, _, err := ParseStepValue(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseStepValue(%q): got %v, want ErrInvalid", bad, err)
		}
	}
}

func TestRetryAfterError(t *testing.T) {
	inner := errors.New("slack rate limit exceeded")
	err := error(&RetryAfterError{After: 3e9, Err: inner})
	var ra *RetryAfterError
	if !errors.As(err, &ra) || ra.After != 3e9 || !errors.Is(err, inner) {
		t.Errorf("errors.As/Is failed on %v", err)
	}
}
