package main

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// TestMain removes the binary the process tests build.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// incidentbotBinary builds the service once per test run, as an operator
// would (without -race: it is the product under test, not the test).
func incidentbotBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "incidentbot-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "incidentbot")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is the built service running as a subprocess.
type proc struct {
	cmd  *exec.Cmd
	URL  string
	done chan error
}

// startProc starts bin with env (and nothing else from ours), appending
// its logs to logPath, and waits until /readyz answers 200.
func startProc(t *testing.T, bin string, env []string, logPath string) *proc {
	t.Helper()
	logs, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	cmd := exec.Command(bin)
	cmd.Env = withGraphsOff(env)
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	// A test that fails between start and stop must not leave the service
	// running: killing one that already exited is a no-op.
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	line, err := bufio.NewReader(out).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, out); p.done <- cmd.Wait() }()
	_, addr, ok := strings.Cut(line, " listening on ")
	if err != nil || !ok {
		p.kill()
		t.Fatalf("incidentbot did not start (%v): %q\n%s", err, line, tail(logPath))
	}
	addr, _, _ = strings.Cut(addr, " ")
	p.URL = "http://" + addr
	waitFor(t, 10*time.Second, "/readyz", func() bool {
		res, err := http.Get(p.URL + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

// kill ends the process with SIGKILL, as a crash or the OOM killer would,
// and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop ends the process with SIGTERM and returns how it exited.
func (p *proc) stop(t *testing.T) error {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(40 * time.Second):
		p.kill()
		return fmt.Errorf("did not stop within 40s of SIGTERM")
	}
}

// rssAnon reads the process's anonymous resident memory (heap, stacks,
// runtime) from /proc/<pid>/status: unlike the total RSS it leaves out
// the file-backed pages of bbolt's mmap, which grow with the file.
func (p *proc) rssAnon() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no RssAnon in /proc/%d/status", p.cmd.Process.Pid)
}

// connections counts the established TCP connections to the service's
// port, from /proc/net/tcp (its local end is ours: the address is
// 127.0.0.1).
func (p *proc) connections() (int, error) {
	_, port, _ := strings.Cut(strings.TrimPrefix(p.URL, "http://"), ":")
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	local := fmt.Sprintf(":%04X", n)
	count := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], local) && f[3] == "01" {
			count++
		}
	}
	return count, nil
}

// metric scrapes /metrics and returns the value of the sample whose name
// (with labels, as exposed) is name.
func (p *proc) metric(name string) (float64, error) {
	res, err := http.Get(p.URL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}

// metrics scrapes /metrics once and returns the values of the samples
// named (with labels, as exposed), in order.
func (p *proc) metrics(names ...string) ([]float64, error) {
	res, err := http.Get(p.URL + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	want := make(map[string]int, len(names))
	for i, n := range names {
		want[n] = i
	}
	out, found := make([]float64, len(names)), 0
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if i, wanted := want[name]; ok && wanted {
			if out[i], err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			delete(want, name)
			found++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if found < len(names) {
		return nil, fmt.Errorf("not in /metrics: %v", slices.Collect(maps.Keys(want)))
	}
	return out, nil
}

// tail returns the end of a log file, for failure messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// graphsOff is INCIDENTBOT_PROMETHEUS_URL for the tests that do not test
// graphs: their alerts' generatorURLs name made-up hosts (prometheus-0),
// and a test must never resolve or dial anything off loopback. The graph
// tests point the setting at their own Prometheus.
const graphsOff = "off"

// withGraphsOff adds INCIDENTBOT_PROMETHEUS_URL=off to env unless it sets
// the variable itself.
func withGraphsOff(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "INCIDENTBOT_PROMETHEUS_URL=") {
			return env
		}
	}
	return append(env[:len(env):len(env)], "INCIDENTBOT_PROMETHEUS_URL="+graphsOff)
}

// getJSON reads path from the process's API into v, as botProc.getJSON.
func (p *proc) getJSON(t *testing.T, path, token string, v any) int {
	t.Helper()
	return (&botProc{URL: p.URL}).getJSON(t, path, token, v)
}
