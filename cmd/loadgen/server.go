package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a service loadgen started: the real incidentbot or the
// baseline, each its own process so that they are measured alike.
type server struct {
	cmd *exec.Cmd
	url string
	dir string
	// db is the real service's bbolt file; admin its pprof listener.
	db, admin string
	groups    int
	// dropSchema removes the postgres target's schema.
	dropSchema func()
}

// buildIncidentbot builds the service into dir, as an operator would.
func buildIncidentbot(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "incidentbot")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/incidentbot/incidentbot/cmd/incidentbot")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/incidentbot: %w", err)
	}
	return bin, nil
}

// start starts the named server on 127.0.0.1 with its logs in a file and
// waits until it says where it listens.
func start(ctx context.Context, o *options, name string) (*server, error) {
	dir, err := os.MkdirTemp("", "loadgen-"+name+"-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	switch name {
	case "real", "postgres":
		db := filepath.Join(dir, "incidentbot.db")
		if name == "postgres" {
			if db, s.dropSchema, err = freshSchema(ctx, o.postgres); err != nil {
				return nil, err
			}
		} else {
			s.db = db
		}
		env = append(env, "INCIDENTBOT_ADDR=127.0.0.1:0", "INCIDENTBOT_DB="+db, "INCIDENTBOT_WEBHOOK_TOKEN="+o.token,
			"INCIDENTBOT_LOG_LEVEL="+o.logLevel)
		if o.cpuProfile != "" {
			if s.admin, err = freeAddr(); err != nil {
				return nil, err
			}
			env = append(env, "INCIDENTBOT_ADMIN_ADDR="+s.admin)
		}
		s.cmd = exec.Command(o.bin)
	case "baseline":
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		s.cmd = exec.Command(self, "-serve-baseline", "127.0.0.1:0", "-token", o.token, "-log-level", o.logLevel)
	}
	s.cmd.Env = env
	logs, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	defer logs.Close()
	s.cmd.Stderr = logs
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	_, addr, ok := strings.Cut(line, " listening on ")
	if err != nil || !ok {
		s.stop(io.Discard)
		return nil, fmt.Errorf("%s did not start (%v); see %s", name, err, logs.Name())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	addr, _, _ = strings.Cut(strings.TrimSpace(addr), " ")
	s.url = "http://" + addr
	return s, s.ready(ctx)
}

func (s *server) ready(ctx context.Context) error {
	for range 100 {
		res, err := http.Get(s.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s never became ready", s.url)
}

// stop ends the server with SIGTERM, as an orchestrator would, and
// removes its files.
func (s *server) stop(stderr io.Writer) {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				fmt.Fprintf(stderr, "loadgen: %s exited: %v (logs in %s)\n", s.url, err, s.dir)
				return
			}
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	}
	_ = os.RemoveAll(s.dir)
	if s.dropSchema != nil {
		s.dropSchema()
	}
}

// profile asks the service for a CPU profile covering most of the run;
// the returned function waits for it and writes it to path.
func (s *server) profile(ctx context.Context, path string, d time.Duration) func() error {
	secs := max(int(d.Seconds())-1, 1)
	errc := make(chan error, 1)
	go func() {
		res, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.admin, secs))
		if err != nil {
			errc <- err
			return
		}
		defer res.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			errc <- err
			return
		}
		_, err = io.Copy(f, res.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		errc <- err
	}()
	return func() error {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// cpuTime is the server process's user and system CPU time so far, from
// /proc (Linux; 0 elsewhere).
func cpuTime(s *server) time.Duration {
	if s == nil || s.cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// selfCPU is loadgen's own CPU time so far: on a small machine it shares
// the cores with the server, and the table says how much it took.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the CPU time all processes have used so far (the busy
// part of /proc/stat's cpu line), to tell how much else ran during a
// measurement on a shared machine.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:8] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 { // idle and iowait
			busy += n
		}
	}
	const clockTicks = 100
	return time.Duration(busy) * time.Second / clockTicks
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
