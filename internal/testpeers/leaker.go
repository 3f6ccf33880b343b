package testpeers

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Leaker builds and runs testdata/leaker, a Go process that serves
// net/http/pprof and leaks in main.leakyCache, and returns its base URL
// (http://127.0.0.1:port). It is skipped in -short mode and stopped when
// the test ends.
func Leaker(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a leaking process")
	}
	_, here, _, _ := runtime.Caller(0)
	bin := filepath.Join(t.TempDir(), "leaker")
	build := exec.Command("go", "build", "-o", bin, "./testdata/leaker")
	build.Dir = filepath.Dir(here)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build leaker: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("leaker said nothing: %v", err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
}
