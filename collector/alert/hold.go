package alert

import (
	"fmt"
	"strings"
	"time"
)

// KeptFiring explains a firing alert whose condition has cleared but that
// still fires because of its rule's keep_firing_for, for a listing at now:
// "condition cleared 1 min ago; clears in 4 min (keep_firing_for 5m)".
// Any other alert gets "". Without it, a listing shows an alert firing over
// a machine that looks fine, and nobody can tell why.
func (a *Alert) KeptFiring(now time.Time) string {
	if a.State != Firing || a.FalseSince.IsZero() {
		return ""
	}
	resolves := a.ResolvesAt
	if resolves.IsZero() {
		resolves = a.FalseSince.Add(a.KeepFiringFor) // state saved before ResolvesAt was
	}
	clears := "clears at the next evaluation"
	if left := resolves.Sub(now); left > 0 {
		clears = "clears in " + roughly(left)
	}
	return fmt.Sprintf("condition cleared %s ago; %s (keep_firing_for %s)", roughly(max(0, now.Sub(a.FalseSince))), clears, compact(a.KeepFiringFor))
}

// roughly formats a duration for people: seconds under a minute, then
// whole minutes, then hours and minutes.
func roughly(d time.Duration) string {
	if d = d.Round(time.Second); d < time.Minute {
		return fmt.Sprintf("%d s", int(d/time.Second))
	}
	if d = d.Round(time.Minute); d < time.Hour {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	if m := d % time.Hour; m != 0 {
		return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(m/time.Minute))
	}
	return fmt.Sprintf("%d h", int(d/time.Hour))
}

// compact formats a duration as a rule file writes it: "5m", "1h30m",
// "90s" rather than "5m0s".
func compact(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
