package bot

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseRunbookVar(t *testing.T) {
	tests := []struct {
		name, varName, src string
		wantErr            string // substring; "" means valid
	}{
		{name: "label", varName: "NS", src: "{{ .Labels.namespace }}"},
		{name: "default chain", varName: "APP", src: "{{ .Labels.container | default .Labels.service }}"},
		{name: "with and if", varName: "SEL", src: "{{ with .Labels.service }}app={{ . }}{{ else }}{{ if .Labels.job }}job={{ .Labels.job }}{{ end }}{{ end }}"},
		{name: "lowercase name", varName: "ns", src: "x", wantErr: "want capitals"},
		{name: "bad syntax", varName: "NS", src: "{{ .Labels.namespace ", wantErr: "variable NS"},
		{name: "unknown function", varName: "NS", src: "{{ exec .Labels.x }}", wantErr: `function "exec" not defined`},
		{name: "range", varName: "NS", src: "{{ range .Labels }}{{ . }}{{ end }}", wantErr: "range is not allowed"},
		{name: "range inside with", varName: "NS", src: "{{ with .Labels }}{{ range . }}x{{ end }}{{ end }}", wantErr: "range is not allowed"},
		{name: "define", varName: "NS", src: `{{ define "x" }}a{{ end }}b`, wantErr: "define and block are not allowed"},
		{name: "too long", varName: "NS", src: strings.Repeat("a", 1001), wantErr: "longer than 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRunbookVar(tt.varName, tt.src)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ParseRunbookVar(%q, %q): %v, want no error", tt.varName, tt.src, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid)):
				t.Errorf("ParseRunbookVar(%q, %q): %v, want an ErrInvalid containing %q", tt.varName, tt.src, err, tt.wantErr)
			}
		})
	}
}

func TestFillVars(t *testing.T) {
	rb := Runbook{Vars: []RunbookVar{
		{Name: "NS", Template: "{{ .Labels.namespace }}"},
		{Name: "APP", Template: "{{ .Labels.container | default .Labels.service }}"},
		{Name: "SEL", Template: "{{ with .Labels.service }}app={{ . }}{{ end }}"},
		{Name: "HOST", Template: `{{ index .Labels "instance" | before ":" }}`},
		{Name: "INC", Template: "{{ .Incident.Key | lower }}"},
	}}
	alert := func(st AlertStatus, kv ...string) Alert {
		a := Alert{Status: st, Labels: map[string]string{}}
		for i := 0; i+1 < len(kv); i += 2 {
			a.Labels[kv[i]] = kv[i+1]
		}
		return a
	}
	tests := []struct {
		name   string
		alerts []Alert
		want   []string // NAME=value, or NAME!note for unfilled
	}{
		{name: "one alert fills all",
			alerts: []Alert{alert(AlertFiring, "namespace", "payments", "service", "gw", "instance", "10.0.0.1:8080")},
			want:   []string{"NS=payments", "APP=gw", "SEL=app=gw", "HOST=10.0.0.1", "INC=inc-4"}},
		{name: "missing labels name what would fill them",
			alerts: []Alert{alert(AlertFiring, "namespace", "payments")},
			want:   []string{"NS=payments", "APP!no alert has label container or label service", "SEL!no alert has label service", "HOST!no alert has label instance", "INC=inc-4"}},
		{name: "the firing alert that fills most wins over a resolved one",
			alerts: []Alert{alert(AlertResolved, "namespace", "old", "service", "old", "instance", "h:1"), alert(AlertFiring, "namespace", "new"),
				alert(AlertFiring, "namespace", "best", "container", "c", "instance", "h2:9")},
			want: []string{"NS=best", "APP=c", "SEL!no alert has label service", "HOST=h2", "INC=inc-4"}},
		{name: "no alerts: only the incident",
			want: []string{"NS!no alert has label namespace", "APP!no alert has label container or label service", "SEL!no alert has label service", "HOST!no alert has label instance", "INC=inc-4"}},
		{name: "unsafe and long values are not used",
			alerts: []Alert{alert(AlertFiring, "namespace", "a b", "service", "<!channel>", "instance", strings.Repeat("h", 300)+":1")},
			want: []string{"NS!the value found holds characters that are not safe to paste (only letters, digits and ._:/=,@+- are filled in)",
				"APP!the value found holds characters that are not safe to paste (only letters, digits and ._:/=,@+- are filled in)",
				"SEL!the value found holds characters that are not safe to paste (only letters, digits and ._:/=,@+- are filled in)",
				"HOST!the value found is longer than 253 bytes", "INC=inc-4"}},
		// Pasted where a step names a thing (kubectl delete pod $POD), a
		// value that starts with - is an option: --all would delete every pod.
		{name: "a value that would read as an option is not used",
			alerts: []Alert{alert(AlertFiring, "namespace", "--all-namespaces", "service", "-A", "instance", "h:1", "container", "--all")},
			want: []string{"NS!the value found starts with -, which a command would read as an option",
				"APP!the value found starts with -, which a command would read as an option",
				"SEL=app=-A", "HOST=h", "INC=inc-4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := &Incident{ID: 4, Alerts: tt.alerts}
			var got []string
			for _, v := range FillVars(rb, inc) {
				if v.Filled {
					got = append(got, v.Name+"="+v.Value)
				} else {
					got = append(got, v.Name+"!"+v.Note)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("FillVars\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestFillVarsBounded checks that a template cannot write without bound
// or fail the render: its output is capped and errors become notes.
func TestFillVarsBounded(t *testing.T) {
	huge := strings.Repeat("{{ .Labels.x }}", 60)
	rb := Runbook{Vars: []RunbookVar{{Name: "BIG", Template: huge}, {Name: "BAD", Template: "{{ .Incident.Nope }}"}}}
	inc := &Incident{Alerts: []Alert{{Status: AlertFiring, Labels: map[string]string{"x": strings.Repeat("a", 200)}}}}
	got := FillVars(rb, inc)
	if len(got) != 2 || got[0].Filled || !strings.Contains(got[0].Note, "too long") || got[1].Filled || !strings.Contains(got[1].Note, "can't evaluate field Nope") {
		t.Errorf("FillVars = %+v, want BIG too long and BAD failing, both unfilled", got)
	}
}

// FuzzFillVars feeds label values to the variables of a runbook: a value
// is filled in only when it is plain, whatever the alert carries.
func FuzzFillVars(f *testing.F) {
	for _, s := range []string{"payments", "`", "```", "<!channel>", "a\nb", "$(id)", "app=x,y", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	rb := Runbook{Vars: []RunbookVar{
		{Name: "NS", Template: "{{ .Labels.namespace }}"},
		{Name: "SEL", Template: "{{ with .Labels.namespace }}app={{ . | lower | before \",\" }}{{ end }}"},
		{Name: "ANN", Template: `{{ index .Annotations "summary" | default .Labels.namespace | trimSuffix "x" }}`},
	}}
	f.Fuzz(func(t *testing.T, v string) {
		inc := &Incident{Alerts: []Alert{{Status: AlertFiring, Labels: map[string]string{"namespace": v}, Annotations: map[string]string{"summary": v}}}}
		for _, val := range FillVars(rb, inc) {
			if val.Filled && (!safeValueRE.MatchString(val.Value) || len(val.Value) > maxVarValue || strings.HasPrefix(val.Value, "-")) {
				t.Fatalf("label %q filled %s with %q", v, val.Name, val.Value)
			}
			if !val.Filled && val.Note == "" {
				t.Fatalf("label %q left %s without a note", v, val.Name)
			}
		}
	})
}
