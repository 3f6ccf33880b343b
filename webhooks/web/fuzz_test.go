package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// FuzzListFilter feeds the incidents page's query parser: it never panics,
// and a filter it accepts survives being written back as the next page's
// link and read again.
func FuzzListFilter(f *testing.F) {
	for _, s := range []string{"", "status=open", "sev=1&q=disk", "before=INC-12&status=resolved", "q=%00%ff", "sev=sev9", "before=-1", "q=" + strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl, err := parseListFilter(q, nil)
		if err != nil {
			return
		}
		again, err := url.ParseQuery(fl.query(fl.Before))
		if err != nil {
			t.Fatalf("query %q does not parse: %v", fl.query(fl.Before), err)
		}
		back, err := parseListFilter(again, nil)
		if err != nil || back != fl {
			t.Fatalf("%q: filter %+v came back as %+v (%v)", raw, fl, back, err)
		}
	})
}

// FuzzSession feeds the session check any cookie value: only a value the
// bot signed opens a session.
func FuzzSession(f *testing.F) {
	now := time.Date(2024, 6, 20, 16, 0, 0, 0, time.UTC)
	a := newAuth(Config{APIToken: "fuzz-token", Now: func() time.Time { return now }})
	// A session as newSession makes one, with a fixed ID so that every
	// fuzzing process knows the one valid value.
	body := "ZS3b8sO8tS8lVg1j2Rjr6g." + "1718985600"
	good := body + "." + a.mac(a.sessionKey, body)
	valid := func(v string) bool {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", sessionCookie+"="+v)
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = req
		return a.validSession(c)
	}
	if !valid(good) || !valid(a.newSession()) {
		f.Fatal("a signed session is refused")
	}
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add(good[:len(good)-1])
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Fuzz(func(t *testing.T, v string) {
		if valid(v) && v != good {
			t.Fatalf("cookie %q opened a session", v)
		}
	})
}
