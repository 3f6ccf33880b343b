package bot

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

const (
	readme     = "../README.md"
	verbsBegin = "<!-- BEGIN /incident verbs, generated from bot.Verbs by TestVerbsInREADME (go test ./bot -run TestVerbsInREADME -update) -->"
	verbsEnd   = "<!-- END /incident verbs -->"
)

// VerbsDoc is the README's list of /incident verbs, from Verbs.
func verbsDoc() string {
	width := 0
	for _, v := range Verbs {
		width = max(width, len(v.Usage()))
	}
	var b strings.Builder
	b.WriteString("\n```\n")
	for _, v := range Verbs {
		where := ""
		if v.Anywhere {
			where = " (any channel)"
		}
		fmt.Fprintf(&b, "%-*s  %s%s\n", width, v.Usage(), v.Help, where)
	}
	b.WriteString("```\n")
	return b.String()
}

// TestVerbsInREADME keeps the README's list of verbs equal to the table
// that parses them and writes /incident help.
func TestVerbsInREADME(t *testing.T) {
	doc, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := bytes.Index(doc, []byte(verbsBegin)), bytes.Index(doc, []byte(verbsEnd))
	if begin < 0 || end < begin {
		t.Fatalf("%s lacks the markers %q ... %q", readme, verbsBegin, verbsEnd)
	}
	begin += len(verbsBegin)
	want := verbsDoc()
	if string(doc[begin:end]) == want {
		return
	}
	if !*update {
		t.Fatalf("the verbs in %s are out of date: run go test ./bot -run TestVerbsInREADME -update and review the diff", readme)
	}
	out := append(append(append([]byte{}, doc[:begin]...), want...), doc[end:]...)
	if err := os.WriteFile(readme, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
