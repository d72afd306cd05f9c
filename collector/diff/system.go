package diff

import (
	"math"
	"strings"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// systemData is what the diff reads of the system probe's data, or of a
// document's facts when the probe cannot be compared.
type systemData struct {
	OS              string `json:"os"`
	Platform        string `json:"platform"`
	PlatformVersion string `json:"platform_version"`
	KernelVersion   string `json:"kernel_version"`
	Virtualization  string `json:"virtualization"`
	Container       string `json:"container"`
	BootTime        int64  `json:"boot_time"` // Unix seconds
}

// bootSlack is how far two boot times may differ and still be one boot:
// some systems derive the boot time from the uptime, which wobbles.
const bootSlack = 5

// full says whether the data is the probe's full result; its health
// result has the uptime only.
func (d *systemData) full() bool { return d.OS != "" }

func factsData(f *protocol.Facts) systemData {
	return systemData{
		OS:              f.OS,
		Platform:        f.Platform,
		PlatformVersion: f.PlatformVersion,
		KernelVersion:   f.KernelVersion,
		Virtualization:  f.Virtualization,
		BootTime:        f.BootTime,
	}
}

// compareSystem compares the OS, kernel, boot time and virtualization:
// from the system probe when both snapshots have its full result, else
// from the documents' facts when both have them.
func compareSystem(s *Section, p pair) {
	var a, b systemData
	sa, wa := read(p.from, "system", &a)
	sb, wb := read(p.to, "system", &b)
	if sa == ok && sb == ok && a.full() && b.full() {
		systemChanges(s, &a, &b)
		return
	}
	if sa != absent || sb != absent {
		systemIssue(s, earlier, sa, wa, &a)
		systemIssue(s, later, sb, wb, &b)
	}
	if p.from.Facts == nil || p.to.Facts == nil {
		return
	}
	if len(s.Notes) > 0 {
		s.note("compared the snapshots' facts instead of the system probe")
	}
	fa, fb := factsData(p.from.Facts), factsData(p.to.Facts)
	systemChanges(s, &fa, &fb)
}

// systemIssue notes why one side's system probe cannot be compared.
func systemIssue(s *Section, side string, st status, why string, d *systemData) {
	if st == ok && !d.full() {
		s.note("not comparable: the %s snapshot has only the system probe's health data", side)
		return
	}
	explain(s, "system", side, st, why)
}

func systemChanges(s *Section, a, b *systemData) {
	known(s, "OS", osName(a), osName(b))
	known(s, "kernel", a.KernelVersion, b.KernelVersion)
	if a.BootTime > 0 && b.BootTime > 0 && math.Abs(float64(b.BootTime)-float64(a.BootTime)) > bootSlack {
		s.add(Change{Kind: Changed, Subject: "rebooted (boot time)", Before: unixTime(a.BootTime), After: unixTime(b.BootTime)})
	}
	s.value("virtualization", virtualization(a), virtualization(b))
}

// known records a change of a value that is known on both sides; an empty
// value is unknown rather than none.
func known(s *Section, subject, before, after string) {
	if before != "" && after != "" {
		s.value(subject, before, after)
	}
}

func osName(d *systemData) string {
	if d.Platform == "" {
		return d.OS
	}
	return strings.TrimSpace(d.Platform + " " + d.PlatformVersion)
}

func virtualization(d *systemData) string {
	switch {
	case d.Container == "":
		return d.Virtualization
	case d.Virtualization == "":
		return "container " + d.Container
	}
	return d.Virtualization + ", container " + d.Container
}

func unixTime(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }
