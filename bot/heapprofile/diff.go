package heapprofile

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/pprof/profile"

	"github.com/incidentbot/incidentbot/bot"
)

// Diff compares two heap profiles the way `go tool pprof -base base next`
// does (base scaled by -1 and merged into next) and returns the n
// allocation sites whose inuse_space grew most; see bot.Profiler. A site
// is the first frame of a sample's stack outside the Go runtime, so that
// growslice and mallocgc do not hide the code that allocates.
func (c *Client) Diff(base, next []byte, n int) (bot.ProfileDiff, error) {
	b, err := profile.ParseData(base)
	if err != nil {
		return bot.ProfileDiff{}, fmt.Errorf("%w: the base profile does not parse: %v", bot.ErrInvalid, err)
	}
	x, err := profile.ParseData(next)
	if err != nil {
		return bot.ProfileDiff{}, fmt.Errorf("%w: the new profile does not parse: %v", bot.ErrInvalid, err)
	}
	b.Scale(-1)
	m, err := profile.Merge([]*profile.Profile{x, b})
	if err != nil {
		return bot.ProfileDiff{}, fmt.Errorf("%w: the two profiles cannot be compared: %v", bot.ErrInvalid, err)
	}
	idx := -1
	for i, st := range m.SampleType {
		if st.Type == "inuse_space" {
			idx = i
		}
	}
	if idx < 0 {
		return bot.ProfileDiff{}, fmt.Errorf("%w: not a heap profile (no inuse_space samples)", bot.ErrInvalid)
	}
	type key struct {
		fn, file string
		line     int64
	}
	growth := map[key]int64{}
	var net int64
	for _, s := range m.Sample {
		v := s.Value[idx]
		if v == 0 {
			continue
		}
		net += v
		fn, file, line := site(s)
		growth[key{fn, file, line}] += v
	}
	var sites []bot.GrowthSite
	for k, v := range growth {
		if v > 0 {
			sites = append(sites, bot.GrowthSite{Function: k.fn, File: k.file, Line: k.line, Growth: v})
		}
	}
	sort.Slice(sites, func(i, j int) bool {
		if sites[i].Growth != sites[j].Growth {
			return sites[i].Growth > sites[j].Growth
		}
		return sites[i].Function < sites[j].Function
	})
	if len(sites) > n {
		sites = sites[:n]
	}
	for i := range sites {
		if net > 0 {
			sites[i].Share = float64(sites[i].Growth) / float64(net)
		}
	}
	return bot.ProfileDiff{Growth: net, Sites: sites}, nil
}

// site is the sample's allocation site: its innermost frame outside the
// runtime, or the innermost frame when every frame is the runtime's.
func site(s *profile.Sample) (fn, file string, line int64) {
	first := true
	for _, loc := range s.Location {
		for _, l := range loc.Line { // innermost first, inlined frames included
			if l.Function == nil {
				continue
			}
			name := l.Function.Name
			if first {
				fn, file, line, first = name, l.Function.Filename, l.Line, false
			}
			if !strings.HasPrefix(name, "runtime.") && !strings.HasPrefix(name, "internal/") {
				return name, l.Function.Filename, l.Line
			}
		}
	}
	if first {
		return "(unknown)", "", 0
	}
	return fn, file, line
}
