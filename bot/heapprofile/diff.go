package heapprofile

import (
	"errors"
	"fmt"
	"sort"

	"github.com/incidentbot/incidentbot/bot"
)

// Diff compares two heap profiles and returns the n allocation sites
// whose inuse_space grew most; see bot.Profiler. Per site it is exactly
// what `go tool pprof -base base next` shows (base scaled by -1, merged
// into next, summed): a site's growth is its sum in next minus its sum
// in base. It is computed one profile at a time, streaming (stream.go),
// so that no parsed profile is ever in memory. A site is the first frame of a sample's stack
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

// sums sums one heap profile's inuse_space per site (stream.go: the
// profile is never held parsed). unit is the sample type's unit, which
// both profiles must share.
func sums(data []byte, which string) (map[siteKey]int64, string, error) {
	out, unit, err := streamSums(data, which)
	if errors.Is(err, errNotHeap) {
		return nil, "", fmt.Errorf("%w: the %s profile is not a heap profile (no inuse_space samples)", bot.ErrInvalid, which)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", bot.ErrInvalid, err)
	}
	return out, unit, nil
}
