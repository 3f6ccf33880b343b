package promgraph

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/internal/hostallow"
)

func allowLoopback(t *testing.T) hostallow.List {
	t.Helper()
	l, err := hostallow.Parse([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestDerivedPrometheusOnlyOnAllowedHosts posts the hostile generatorURLs a
// webhook could carry and checks that only allow-listed hosts are ever
// contacted: not the metadata service, not loopback through a DNS name, not
// another host by redirect.
func TestDerivedPrometheusOnlyOnAllowedHosts(t *testing.T) {
	var hits, elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.Contains(r.URL.Path, "/redirect/") {
			http.Redirect(w, r, other.URL+"/api/v1/query_range", http.StatusTemporaryRedirect)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"a"},"values":[[1,"1"],[2,"2"]]}]}}`)
	}))
	defer prom.Close()
	port := prom.URL[strings.LastIndex(prom.URL, ":")+1:]
	res := hostallow.Static{
		"prom.internal":  {netip.MustParseAddr("127.0.0.1")},
		"evil.example":   {netip.MustParseAddr("127.0.0.1")},
		"meta.internal":  {netip.MustParseAddr("169.254.169.254")},
		"prom.localhost": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	}
	now := time.Now()
	for _, tc := range []struct {
		name, source string
		allow        []string
		url          string // INCIDENTBOT_PROMETHEUS_URL
		ok           bool
	}{
		{name: "no allow-list: derived URLs are not used", source: prom.URL},
		{name: "address outside the listed networks", source: prom.URL, allow: []string{"10.0.0.0/8"}},
		{name: "metadata address under a catch-all network", source: "http://169.254.169.254:" + port, allow: []string{"0.0.0.0/0"}},
		{name: "loopback under a catch-all network", source: prom.URL, allow: []string{"0.0.0.0/0", "::/0"}},
		{name: "unlisted name resolving to loopback", source: "http://evil.example:" + port, allow: []string{"prom.internal"}},
		{name: "listed name resolving to loopback", source: "http://prom.internal:" + port, allow: []string{"prom.internal"}},
		{name: "listed name resolving to metadata", source: "http://meta.internal:" + port, allow: []string{"meta.internal", "10.0.0.0/8"}},
		{name: "redirect to another host", source: prom.URL + "/redirect", allow: []string{"127.0.0.1"}},
		{name: "listed name, loopback listed", source: "http://prom.internal:" + port, allow: []string{"prom.internal", "127.0.0.0/8"}, ok: true},
		{name: "listed address", source: prom.URL, allow: []string{"127.0.0.1"}, ok: true},
		{name: "the setting wins over any generatorURL", source: "http://169.254.169.254", url: prom.URL, ok: true},
	} {
		allow, err := hostallow.Parse(tc.allow)
		if err != nil {
			t.Fatal(err)
		}
		gr, err := New(Options{URL: tc.url, Allow: allow, Resolver: res, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		before := hits.Load()
		_, err = gr.Graph(context.Background(), bot.Graph{Start: now.Add(-time.Hour), End: now,
			Queries: []bot.GraphQuery{{Expr: "up", Source: tc.source}}})
		if tc.ok != (err == nil) {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if contacted := hits.Load() > before; contacted != (tc.ok || strings.Contains(tc.name, "redirect")) {
			t.Errorf("%s: Prometheus contacted = %v", tc.name, contacted)
		}
	}
	if elsewhere.Load() != 0 {
		t.Errorf("a redirect was followed to another host %d times", elsewhere.Load())
	}
}
