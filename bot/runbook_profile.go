package bot

import (
	"fmt"
	"strings"
	"time"
)

// A runbook's profiling steps (RunbookStep.Profile, declared by the
// runbook's profile_steps) are the ones the bot does itself when it
// captures heap profiles: the checklist shows the captures on them, and
// the bot ticks them, as incidentbot, once it has diffed two.

// maxNotedCaptures bounds the captures a profiling step names.
const maxNotedCaptures = 3

// ProfileNote is the line a profiling step shows once the bot captured
// heap profiles for inc: "captured 14:02 (inc-1-heap-1.pb.gz) and 14:12
// (inc-1-heap-2.pb.gz), diff: +412.0 MB in main.leakyCache (93%)"; empty
// when nothing was captured. clock writes a moment for the reader.
func ProfileNote(inc *Incident, clock func(time.Time) string) string {
	var good []string
	var failed []ProfileCapture
	for _, c := range inc.Profiles {
		if c.Error != "" || c.File == "" {
			failed = append(failed, c)
			continue
		}
		good = append(good, fmt.Sprintf("%s (%s)", clock(c.At), blobName(inc, c)))
	}
	var parts []string
	switch n := len(good); {
	case n > maxNotedCaptures:
		parts = append(parts, fmt.Sprintf("captured %s … and %d more, the last %s", good[0], n-2, good[n-1]))
	case n > 1:
		parts = append(parts, "captured "+strings.Join(good[:n-1], ", ")+" and "+good[n-1])
	case n == 1:
		parts = append(parts, "captured "+good[0])
	}
	if n := len(inc.ProfileDiffs); n > 0 {
		parts = append(parts, "diff: "+diffSummary(inc.ProfileDiffs[n-1]))
	}
	if n := len(failed); n > 0 {
		last := failed[n-1]
		parts = append(parts, fmt.Sprintf("%d failed, the last at %s: %s", n, clock(last.At), clip(OneLine(last.Error), 160)))
	}
	return strings.Join(parts, ", ")
}

// diffSummary is a diff in a few words: the top site's growth, function
// and share, or the net growth when no site grew.
func diffSummary(d ProfileDiff) string {
	if len(d.Sites) == 0 {
		return signed(d.Growth) + " in use, no allocation site grew"
	}
	s := d.Sites[0]
	return fmt.Sprintf("%s in %s (%.0f%%)", signed(s.Growth), s.Function, 100*s.Share)
}

// tickProfileSteps marks, as the bot, the profiling steps of inc's posted
// checklists that nobody marked yet, now that diff compared two captures.
func (s *Service) tickProfileSteps(inc *Incident, diff ProfileDiff, now time.Time) []*TimelineEntry {
	if s.runbooks == nil {
		return nil
	}
	var out []*TimelineEntry
	for _, c := range inc.Checklists {
		rb, ok := s.runbooks.Get(c.Runbook)
		if !ok {
			continue
		}
		for _, st := range rb.Steps {
			if !st.Profile {
				continue
			}
			text := fmt.Sprintf("heap profiles %d and %d diffed: %s", diff.Base, diff.Next, diffSummary(diff))
			e, err := markStep(inc, Action{Op: OpRunbookStep, Runbook: rb.Name, Step: st.N, Actor: ActorBot, Text: text}, now)
			if err == nil { // already marked, or the checklist lacks it: leave it
				out = append(out, e)
			}
		}
	}
	return out
}
