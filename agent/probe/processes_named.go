package probe

import (
	"context"
	"strings"

	"github.com/sondehq/sonde/protocol"
)

// maxNamedMatches bounds the processes listed under one name asked for.
const maxNamedMatches = 10

// named finds the processes asked for by name among those listed: L2
// asks "which java is it?" of a machine that is slow. A name matches a
// process's name or its executable's file name, ignoring case (and a
// trailing ".exe"). The names come from a validated request; any other
// (from a local caller) is skipped, as are repeats and names past
// protocol.MaxProcessNames.
func (p *processesProbe) named(ctx context.Context, asked []string, info func(*procSample) ProcessInfo) ([]NamedProcesses, []string) {
	exes := map[int32]string{} // executable file names, read once per process
	exeName := func(s *procSample) string {
		e, ok := exes[s.pid]
		if !ok {
			e = exeBase(p.exeForMatch(ctx, s.pid))
			exes[s.pid] = e
		}
		return e
	}
	var named []NamedProcesses
	var notFound []string
	seen := map[string]bool{}
	for _, want := range asked {
		key := strings.ToLower(want)
		if !protocol.ValidProcessName(want) || seen[key] || len(seen) == protocol.MaxProcessNames {
			continue
		}
		seen[key] = true
		var idx []int
		for i := range p.samples {
			if s := &p.samples[i]; processMatches(s, want, exeName) {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			notFound = append(notFound, want)
			continue
		}
		n := NamedProcesses{Name: want, Processes: p.ranked(idx, byCPU, maxNamedMatches, info)}
		n.Omitted = len(idx) - len(n.Processes)
		named = append(named, n)
	}
	return named, notFound
}

// processMatches reports whether s goes by the name want: its own name,
// else its executable's file name; where the system cuts process names
// (Linux, at commLen bytes) and the executable cannot be read, a cut name
// that begins want.
func processMatches(s *procSample, want string, exeName func(*procSample) string) bool {
	if sameProcessName(want, s.name) {
		return true
	}
	if exe := exeName(s); exe != "" {
		return sameProcessName(want, exe)
	}
	return commLen > 0 && len(s.name) == commLen && len(want) > commLen && strings.EqualFold(want[:commLen], s.name)
}

// sameProcessName reports whether want names have, ignoring case and a
// Windows executable's ".exe".
func sameProcessName(want, have string) bool {
	if strings.EqualFold(want, have) {
		return true
	}
	n := len(have) - len(".exe")
	return n > 0 && strings.EqualFold(have[n:], ".exe") && strings.EqualFold(want, have[:n])
}

// exeBase returns the file name of an executable's path; Linux marks the
// file of a program replaced or removed since it started " (deleted)".
func exeBase(path string) string {
	path = strings.TrimSuffix(path, " (deleted)")
	return path[strings.LastIndexAny(path, `/\`)+1:]
}
