package heapprofile

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/pprof/profile"

	"github.com/incidentbot/incidentbot/bot"
)

// Diff compares two heap profiles and returns the n allocation sites
// whose inuse_space grew most; see bot.Profiler. Per site it is exactly
// what `go tool pprof -base base next` shows (base scaled by -1, merged
// into next, summed): a site's growth is its sum in next minus its sum
// in base. It is computed one profile at a time, so that only one parsed
// profile is in memory at once (a parsed profile takes about nine times
// its gzipped size). A site is the first frame of a sample's stack
// outside the Go runtime, so that growslice and mallocgc do not hide the
// code that allocates.
func (c *Client) Diff(base, next []byte, n int) (bot.ProfileDiff, error) {
	c.diffing <- struct{}{} // one diff at a time: a parsed profile is large
	defer func() { <-c.diffing }()
	before, bt, err := sums(base, "base")
	if err != nil {
		return bot.ProfileDiff{}, err
	}
	after, nt, err := sums(next, "new")
	if err != nil {
		return bot.ProfileDiff{}, err
	}
	if bt != nt {
		return bot.ProfileDiff{}, fmt.Errorf("%w: the two profiles cannot be compared: inuse_space in %s and in %s", bot.ErrInvalid, bt, nt)
	}
	var net int64
	for k, v := range after {
		after[k] = v - before[k]
		net += v
	}
	for k, v := range before {
		net -= v
		if _, ok := after[k]; !ok {
			after[k] = -v
		}
	}
	var sites []bot.GrowthSite
	for k, v := range after {
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

type siteKey struct {
	fn, file string
	line     int64
}

// sums parses one heap profile and sums its inuse_space per site; the
// parsed profile is garbage once it returns. unit is the sample type's
// unit, which both profiles must share.
func sums(data []byte, which string) (map[siteKey]int64, string, error) {
	p, err := profile.ParseData(data)
	if err != nil {
		return nil, "", fmt.Errorf("%w: the %s profile does not parse: %v", bot.ErrInvalid, which, err)
	}
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "inuse_space" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, "", fmt.Errorf("%w: the %s profile is not a heap profile (no inuse_space samples)", bot.ErrInvalid, which)
	}
	out := map[siteKey]int64{}
	for _, s := range p.Sample {
		if v := s.Value[idx]; v != 0 {
			fn, file, line := site(s)
			out[siteKey{fn, file, line}] += v
		}
	}
	return out, p.SampleType[idx].Unit, nil
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
