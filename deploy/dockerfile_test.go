package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// No Docker engine runs the tests, so the Dockerfile is checked as text.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int    // where it starts, 1-based
	cmd  string // upper case: FROM, RUN...
	args string
}

func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur *instruction
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || (line == "" && cur == nil) {
			continue // comments (also inside continuations) and blank lines
		}
		cont := strings.HasSuffix(line, "\\")
		line = strings.TrimSuffix(line, "\\")
		if cur == nil {
			cmd, args, _ := strings.Cut(line, " ")
			cur = &instruction{line: i + 1, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		} else {
			cur.args += " " + strings.TrimSpace(line)
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// stage is one FROM and the instructions up to the next.
type stage struct {
	from  instruction
	image string
	name  string
	body  []instruction
}

func splitStages(ins []instruction) []stage {
	var stages []stage
	for _, in := range ins {
		if in.cmd != "FROM" {
			if len(stages) > 0 {
				stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
			}
			continue
		}
		var words []string
		for w := range strings.FieldsSeq(in.args) {
			if !strings.HasPrefix(w, "--") { // --platform=...
				words = append(words, w)
			}
		}
		s := stage{from: in}
		if len(words) > 0 {
			s.image = words[0]
		}
		if len(words) == 3 && strings.EqualFold(words[1], "AS") {
			s.name = words[2]
		}
		stages = append(stages, s)
	}
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// problems collects what the lint finds, each with its line.
type problems []string

func (p *problems) add(line int, format string, args ...any) {
	*p = append(*p, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
}

// lintDockerfile returns what is wrong with a Dockerfile for incidentbot.
func lintDockerfile(text string) []string {
	stages := splitStages(parseDockerfile(text))
	if len(stages) < 2 {
		return []string{"not a multi-stage build: want a golang builder stage and a minimal final stage"}
	}
	var p problems
	lintPins(&p, stages)
	lintBuild(&p, stages[:len(stages)-1])
	lintFinal(&p, stages[len(stages)-1])
	return p
}

// lintPins wants every base image pinned to a version.
func lintPins(p *problems, stages []stage) {
	names := map[string]bool{}
	for _, s := range stages {
		img := s.image
		if img != "scratch" && !names[img] && !pinned(img) {
			p.add(s.from.line, "FROM %s: pin a version (no tag means latest)", img)
		}
		if s.name != "" {
			names[s.name] = true
		}
	}
}

// lintBuild wants a static, reproducible, version-stamped build.
func lintBuild(p *problems, stages []stage) {
	if !strings.HasPrefix(stages[0].image, "golang:") {
		p.add(stages[0].from.line, "first stage is %s, want golang:<version>", stages[0].image)
	}
	var build strings.Builder
	for _, s := range stages {
		for _, in := range s.body {
			if in.cmd == "RUN" || in.cmd == "ENV" {
				build.WriteString(in.args + "\n")
			}
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=", "-s -w", "./cmd/incidentbot"} {
		if !strings.Contains(build.String(), want) {
			p.add(stages[0].from.line, "the build stages never use %q", want)
		}
	}
}

// lintFinal wants a shell-less, non-root image that runs `incidentbot serve`.
func lintFinal(p *problems, final stage) {
	if !strings.HasPrefix(final.image, "gcr.io/distroless/static") && final.image != "scratch" {
		p.add(final.from.line, "final stage FROM %s, want gcr.io/distroless/static-... or scratch", final.image)
	}
	if runs := final.all("RUN"); len(runs) > 0 {
		p.add(runs[0].line, "RUN in the final stage: it has no shell")
	}
	users := final.all("USER")
	if len(users) == 0 {
		p.add(final.from.line, "final stage has no USER: it would run as root")
	} else if u := users[len(users)-1]; slices.Contains([]string{"root", "0", "0:0", "root:root"}, u.args) {
		p.add(u.line, "USER %s: run as a non-root user", u.args)
	}
	execForm := func(cmd string, want []string) {
		ins := final.all(cmd)
		if len(ins) == 0 {
			p.add(final.from.line, "final stage has no %s", cmd)
			return
		}
		in := ins[len(ins)-1]
		var got []string
		if err := json.Unmarshal([]byte(in.args), &got); err != nil {
			p.add(in.line, "%s %s: use the exec form %q (there is no shell)", cmd, in.args, want)
			return
		}
		if !slices.Equal(got, want) {
			p.add(in.line, "%s %q, want %q", cmd, got, want)
		}
	}
	execForm("ENTRYPOINT", []string{"/incidentbot"})
	execForm("CMD", []string{"serve"})
	has := func(cmd, want string) {
		for _, in := range final.all(cmd) {
			if strings.Contains(in.args, want) {
				return
			}
		}
		p.add(final.from.line, "final stage lacks %s %s", cmd, want)
	}
	has("EXPOSE", "8080")
	has("VOLUME", "/data")
	has("ENV", "INCIDENTBOT_DB=/data/incidentbot.db")
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lintDockerfile(string(b)) {
		t.Errorf("Dockerfile %s", p)
	}
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, want := range []string{".git", "**/*.db"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}

// The lint must catch what it claims to catch.
func TestLintDockerfileCatches(t *testing.T) {
	const good = `FROM golang:1.26 AS build
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=1" ./cmd/incidentbot
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/incidentbot /incidentbot
ENV INCIDENTBOT_DB=/data/incidentbot.db
USER 65532:65532
EXPOSE 8080
VOLUME /data
ENTRYPOINT ["/incidentbot"]
CMD ["serve"]
`
	if p := lintDockerfile(good); len(p) > 0 {
		t.Fatalf("lint rejects a good Dockerfile: %q", p)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"single stage", "FROM golang:1.26 AS build\nRUN CGO_ENABLED=0 go build -trimpath -ldflags \"-s -w -X main.version=1\" ./cmd/incidentbot\n", "", "multi-stage"},
		{"latest tag", "golang:1.26", "golang:latest", "pin a version"},
		{"no tag", "golang:1.26", "golang", "pin a version"},
		{"registry port, no tag", "gcr.io/distroless/static-debian12:nonroot", "localhost:5000/static", "pin a version"},
		{"cgo on", "CGO_ENABLED=0 ", "", "CGO_ENABLED=0"},
		{"root user", "USER 65532:65532", "USER root", "non-root"},
		{"no user", "USER 65532:65532\n", "", "no USER"},
		{"shell entrypoint", `ENTRYPOINT ["/incidentbot"]`, "ENTRYPOINT /incidentbot", "exec form"},
		{"shell in final stage", "EXPOSE 8080\n", "EXPOSE 8080\nRUN mkdir /x\n", "no shell"},
		{"no volume", "VOLUME /data\n", "", "VOLUME /data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(good, tt.old) {
				t.Fatalf("test case does not apply: %q not in the good Dockerfile", tt.old)
			}
			problems := lintDockerfile(strings.Replace(good, tt.old, tt.new, 1))
			for _, p := range problems {
				if strings.Contains(p, tt.want) {
					return
				}
			}
			t.Errorf("after replacing %q with %q: want a problem mentioning %q, got %q", tt.old, tt.new, tt.want, problems)
		})
	}
}
