package render

import (
	"fmt"
	"time"
)

// StaleAfter is how much newer than a snapshot the agent's latest health
// sample may be before the snapshot's fleeting lists are called stale:
// a few health periods (60 s by default), so that a list shown minutes
// after the process in it died says it may be out of date.
const StaleAfter = 3 * time.Minute

// Age is how old a stored snapshot's data is, for the views that show it
// beside what the agent reported since.
type Age struct {
	SnapshotID int64
	CapturedAt time.Time
	// LatestHealth is when the agent's latest health sample was captured;
	// zero when unknown.
	LatestHealth time.Time
}

// AsOf says when the data is from: "as of 4 min ago (snapshot 27)".
func (a Age) AsOf(now time.Time) string {
	s := "as of " + Ago(a.CapturedAt, now)
	if a.SnapshotID != 0 {
		s += fmt.Sprintf(" (snapshot %d)", a.SnapshotID)
	}
	return s
}

// Stale reports whether the agent sent a health sample more than
// StaleAfter after the snapshot: the machine has moved on since.
func (a Age) Stale() bool {
	return !a.CapturedAt.IsZero() && a.LatestHealth.Sub(a.CapturedAt) > StaleAfter
}

// StaleNote says why what (the list, the findings) may be stale, and
// what to do.
func (a Age) StaleNote(what string) string {
	return fmt.Sprintf("%s may be stale: the agent reported health %s after this snapshot (latest %s); take a fresh snapshot to see it now",
		what, Duration(a.LatestHealth.Sub(a.CapturedAt).Round(time.Second)), Stamp(a.LatestHealth))
}

// Fleeting reports whether a probe's data is a list of things that come
// and go by the minute (processes), which views mark with its age.
func Fleeting(probe string) bool {
	return probe == "processes"
}
