package testpeers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	amOnce sync.Once
	amPath string
	amErr  error
)

// AlertmanagerBinary returns the path of the real Alertmanager pinned as a
// tool in go.mod, built (and cached) by the go command on first use.
func AlertmanagerBinary(t testing.TB) string {
	t.Helper()
	amOnce.Do(func() {
		out, err := exec.Command("go", "tool", "-n", "alertmanager").Output()
		if err != nil {
			amErr = fmt.Errorf("go tool -n alertmanager: %v", err)
			return
		}
		amPath = strings.TrimSpace(string(out))
	})
	if amErr != nil {
		t.Fatal(amErr)
	}
	return amPath
}

// Alertmanager runs the real Alertmanager alone (no cluster) with config
// (an alertmanager.yml) on a free loopback port and returns its base URL
// once it is ready. It is stopped when the test ends.
func Alertmanager(t testing.TB, config string) string {
	t.Helper()
	return alertmanagers(t, 0, []string{config})[0]
}

// AlertmanagerCluster runs one real Alertmanager per config, joined in
// one gossip cluster as an HA pair (or more) is, and returns their base
// URLs once every one is ready. The gossip settles in about a second
// (it is tuned for loopback). peerTimeout is Alertmanager's
// --cluster.peer-timeout: the n-th peer waits n times it before sending
// a notification unless the log its peers gossip shows it sent; 0 makes
// every peer send at once, the duplicates a receiver must absorb.
func AlertmanagerCluster(t testing.TB, peerTimeout time.Duration, configs ...string) []string {
	t.Helper()
	if len(configs) < 2 {
		t.Fatalf("AlertmanagerCluster: %d configs, want 2 or more", len(configs))
	}
	return alertmanagers(t, peerTimeout, configs)
}

// alertmanagers starts one Alertmanager per config; with more than one
// they form a cluster, each told of the first.
func alertmanagers(t testing.TB, peerTimeout time.Duration, configs []string) []string {
	t.Helper()
	bin := AlertmanagerBinary(t)
	gossip := make([]string, len(configs))
	if len(configs) > 1 {
		for i := range gossip {
			gossip[i] = FreeAddr(t)
		}
	}
	urls := make([]string, len(configs))
	logs := make([]*lockedBuffer, len(configs))
	for i, cfg := range configs {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		addr := FreeAddr(t)
		args := []string{"--config.file=" + filepath.Join(dir, "am.yml"), "--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr, "--log.level=warn", "--cluster.listen-address=" + gossip[i]}
		if gossip[i] != "" {
			args = append(args, "--cluster.advertise-address="+gossip[i], "--cluster.peer="+gossip[0],
				"--cluster.peer-timeout="+peerTimeout.String(), "--cluster.gossip-interval=20ms",
				"--cluster.pushpull-interval=1s", "--cluster.settle-timeout=5s", "--cluster.reconnect-interval=1s")
		}
		cmd := exec.Command(bin, args...)
		logs[i] = &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = logs[i], logs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		urls[i] = "http://" + addr
	}
	deadline := time.Now().Add(30 * time.Second)
	for i, url := range urls {
		for !ready(url) || (len(urls) > 1 && peers(url) < len(urls)) {
			if time.Now().After(deadline) {
				t.Fatalf("alertmanager at %s was not ready (in a cluster of %d) after 30s; its log:\n%s", url, len(urls), logs[i].String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return urls
}

// peers returns how many members the cluster of the Alertmanager at url
// has, as its API v2 status says (itself included).
func peers(url string) int {
	res, err := http.Get(url + "/api/v2/status")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	var st struct {
		Cluster struct {
			Peers []json.RawMessage `json:"peers"`
		} `json:"cluster"`
	}
	if json.NewDecoder(res.Body).Decode(&st) != nil {
		return 0
	}
	return len(st.Cluster.Peers)
}

// ready reports whether url/-/ready answers 200.
func ready(url string) bool {
	res, err := http.Get(url + "/-/ready")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// Silence is a silence as Alertmanager's API v2 shows it.
type Silence struct {
	ID        string `json:"id"`
	CreatedBy string `json:"createdBy"`
	Comment   string `json:"comment"`
	EndsAt    string `json:"endsAt"`
	Matchers  []struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsEqual bool   `json:"isEqual"`
		IsRegex bool   `json:"isRegex"`
	} `json:"matchers"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
}

// Silences lists the silences the Alertmanager at url holds, by ID.
func Silences(t testing.TB, url string) map[string]Silence {
	t.Helper()
	res, err := http.Get(url + "/api/v2/silences")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list []Silence
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := map[string]Silence{}
	for _, s := range list {
		out[s.ID] = s
	}
	return out
}
