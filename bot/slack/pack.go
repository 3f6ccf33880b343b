package slack

import (
	"strings"
	"unicode/utf8"
)

// packSections joins rendered blocks into section texts of at most limit
// bytes (Slack counts characters; bytes are never fewer), one block per
// line. A block longer than limit is split between lines, or between words
// of a line too long, and a code block split in two is closed and opened
// again, so that every text has whole code blocks.
func packSections(parts []string, limit int) []string {
	var out []string
	cur := ""
	for _, p := range parts {
		switch {
		case cur == "":
		case len(cur)+1+len(p) <= limit:
			cur += "\n" + p
			continue
		default:
			out = append(out, cur)
			cur = ""
		}
		if len(p) <= limit {
			cur = p
			continue
		}
		pieces := splitText(p, limit)
		out = append(out, pieces[:len(pieces)-1]...)
		cur = pieces[len(pieces)-1]
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// splitText cuts s into texts of at most limit bytes between lines,
// keeping code blocks whole in each text (closing and reopening a block
// that is cut), and cutting a line too long between words or, failing
// that, between characters.
func splitText(s string, limit int) []string {
	limit = max(limit, 2*len(fence)+8)
	var out []string
	var cur strings.Builder
	inCode := false
	room := func() int { // what cur can still take, keeping room to close a block
		r := limit - cur.Len()
		if inCode {
			r -= len(fence) + 1
		}
		return r
	}
	emit := func() {
		if inCode {
			cur.WriteString("\n" + fence)
		}
		out = append(out, cur.String())
		cur.Reset()
		if inCode {
			cur.WriteString(fence)
		}
	}
	for line := range strings.SplitSeq(s, "\n") {
		for {
			need := len(line)
			if cur.Len() > 0 {
				need++
			}
			if need <= room() {
				if cur.Len() > 0 {
					cur.WriteByte('\n')
				}
				cur.WriteString(line)
				break
			}
			if cur.Len() > 0 && (!inCode || cur.String() != fence) {
				emit()
				continue
			}
			// the line alone does not fit: cut it
			n := room()
			if cur.Len() > 0 {
				n--
			}
			head, rest := cutLine(line, n)
			if cur.Len() > 0 {
				cur.WriteByte('\n')
			}
			cur.WriteString(head)
			emit()
			line = rest
		}
		if line == fence {
			inCode = !inCode
		}
	}
	if cur.Len() > 0 && (!inCode || cur.String() != fence) {
		out = append(out, cur.String())
	}
	return out
}

// cutLine splits a line at most n bytes in, after a space when there is
// one in the second half, else on a rune boundary.
func cutLine(line string, n int) (string, string) {
	n = max(n, 1)
	if n >= len(line) {
		return line, ""
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(line[cut]) {
		cut--
	}
	if sp := strings.LastIndexByte(line[:cut], ' '); sp > cut/2 {
		cut = sp + 1
	}
	if cut == 0 {
		_, size := utf8.DecodeRuneInString(line)
		cut = size
	}
	return line[:cut], line[cut:]
}
