package runbooks

import (
	"io/fs"
	"os"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
)

// FuzzParse feeds runbook files to the parser: it must never panic, every
// problem must point into the file, and a file without problems must give
// a runbook the bot can use.
func FuzzParse(f *testing.F) {
	for _, dir := range []fs.FS{builtinFS, os.DirFS("testdata/lint")} {
		_ = fs.WalkDir(dir, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, err := fs.ReadFile(dir, p); err == nil {
					f.Add(b)
				}
			}
			return nil
		})
	}
	for _, s := range []string{
		"", "---\n---\n", "---\nname: a\ntitle: A\nmatch: a=b\n---\n1. x\n   $ y \\\n",
		"---\nname: a\ntitle: A\nmatch: [a=b, 'c=~\"d|e\"']\n---\n1. x\n   ```promql\n   up\n",
		"---\nname: &a a\ntitle: *a\nrunbook_urls: [*a]\n---\n1) x\n2) [y](https://z)\n",
		"---\nname: a\ntitle: A\nmatch: a=b\nvars: {NS: '{{ .Labels.namespace }}', X: '{{ with .Labels.a }}{{ . }}{{ end }}'}\n---\n1. `$NS` $X\n   ```sh\n   echo $NS $Y\n   ```\n",
	} {
		f.Add([]byte(s))
	}
	alerts := []bot.Alert{
		{Labels: map[string]string{"alertname": "MemoryLeak", "service": "payment-gateway"}},
		{Labels: map[string]string{}, Annotations: map[string]string{"runbook_url": "https://wiki/runbooks/a.md#b?c"}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rb, probs := parse("f.md", data)
		lines := max(1, len(splitLines(string(data))))
		for _, p := range probs {
			if p.File != "f.md" || p.Line < 1 || p.Line > lines || p.Msg == "" {
				t.Fatalf("parse(%q): problem %q points outside the file (%d lines)", data, p, lines)
			}
		}
		for _, a := range alerts {
			rb.matches(a)
		}
		if len(probs) > 0 {
			return
		}
		if !slugRE.MatchString(rb.Name) || rb.Title == "" || len(rb.Steps) == 0 || len(rb.sets)+len(rb.urls) == 0 {
			t.Fatalf("parse(%q): no problems but name %q, title %q, %d steps, %d matcher sets, %d urls",
				data, rb.Name, rb.Title, len(rb.Steps), len(rb.sets), len(rb.urls))
		}
		for i, st := range rb.Steps {
			if st.N != i+1 || st.Text == "" {
				t.Fatalf("parse(%q): step %d is %+v", data, i+1, st)
			}
		}
		for _, p := range advise(rb, nil) {
			if p.Line < 1 || p.Line > lines || !p.Advisory {
				t.Fatalf("parse(%q): advice %q points outside the file (%d lines)", data, p, lines)
			}
		}
		bot.FillVars(rb.copy(), &bot.Incident{Alerts: alerts})
	})
}
