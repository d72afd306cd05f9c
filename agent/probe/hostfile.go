package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"runtime"
	"strconv"

	"github.com/shirou/gopsutil/v3/common"
	"github.com/shirou/gopsutil/v3/host"
)

// This file holds the small readers of /proc files that several probes
// share. They parse bytes in place: the health variants call them every
// minute on every machine of the fleet.

// readTrimmed returns the content of a small file without surrounding space.
func readTrimmed(path string) (string, error) {
	var s string
	err := withProcFile(path, func(b []byte) error {
		s = string(bytes.TrimSpace(b))
		return nil
	})
	return s, err
}

// lineValue returns what follows key on the first line of data that starts
// with key, trimmed of spaces and tabs ("btime 1700000000" with key
// "btime"). A key must end the word it names: pass "MemTotal:" rather than
// "MemTotal".
func lineValue(data []byte, key string) ([]byte, bool) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) > len(key) && string(line[:len(key)]) == key {
			rest := line[len(key):]
			if key[len(key)-1] != ':' && rest[0] != ' ' && rest[0] != '\t' {
				continue
			}
			return bytes.Trim(rest, " \t"), true
		}
	}
	return nil, false
}

// lineUint is lineValue's first word parsed as an unsigned integer.
func lineUint(data []byte, key string) (uint64, bool) {
	v, ok := lineValue(data, key)
	if !ok {
		return 0, false
	}
	if i := bytes.IndexAny(v, " \t"); i >= 0 {
		v = v[:i]
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	return n, err == nil
}

// readUptime returns the seconds since boot from /proc/uptime, or
// elsewhere than Linux from the system (sysctl, GetTickCount64).
func readUptime(ctx context.Context) (float64, error) {
	up, _, err := readUptimeIdle(ctx)
	return up, err
}

// readUptimeIdle is readUptime, with the seconds all CPUs together spent
// idle since boot (the second field of /proc/uptime); that is -1 where it
// is not known (elsewhere than Linux, or a file without it).
func readUptimeIdle(ctx context.Context) (up, idle float64, err error) {
	if runtime.GOOS != "linux" {
		u, err := host.UptimeWithContext(ctx)
		if err != nil {
			return 0, -1, fmt.Errorf("reading uptime: %w", err)
		}
		return float64(u), -1, nil
	}
	path := Path(ctx, common.HostProcEnvKey, "uptime")
	idle = -1
	err = withProcFile(path, func(b []byte) error {
		first, rest, _ := bytes.Cut(bytes.TrimSpace(b), []byte{' '})
		var err error
		if up, err = strconv.ParseFloat(string(first), 64); err != nil {
			return fmt.Errorf("parsing %s: %w", path, err)
		}
		if v, err := strconv.ParseFloat(string(bytes.TrimSpace(rest)), 64); err == nil && v >= 0 && v <= math.MaxFloat64 {
			idle = v
		}
		return nil
	})
	if err != nil {
		return 0, -1, fmt.Errorf("reading uptime: %w", err)
	}
	return up, idle, nil
}

// readBootTime returns the boot time, in Unix seconds, from the btime line
// of /proc/stat, or elsewhere than Linux from the system. (gopsutil's
// BootTime is avoided on Linux: it goes through VirtualizationWithContext,
// which caches its first answer process-wide.)
func readBootTime(ctx context.Context) (int64, error) {
	if runtime.GOOS != "linux" {
		bt, err := host.BootTimeWithContext(ctx)
		if err != nil {
			return 0, fmt.Errorf("reading boot time: %w", err)
		}
		return int64(bt), nil
	}
	path := Path(ctx, common.HostProcEnvKey, "stat")
	var bt uint64
	err := withProcFile(path, func(b []byte) error {
		var ok bool
		if bt, ok = lineUint(b, "btime"); !ok {
			return fmt.Errorf("no btime line in %s", path)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reading boot time: %w", err)
	}
	return int64(bt), nil
}

// Pressure is one line of a Linux pressure stall file: the share of wall
// time, in percent over the last 10, 60 and 300 seconds, in which some (or
// all) non-idle tasks stalled waiting for the resource.
type Pressure struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	// TotalMicros is the total stall time since boot.
	TotalMicros uint64 `json:"total_us"`
}

// PressureStat is a resource's pressure stall information.
type PressureStat struct {
	Some *Pressure `json:"some,omitempty"`
	Full *Pressure `json:"full,omitempty"`
}

// readPressure reads /proc/pressure/<resource>. It returns nil and no error
// when the kernel has no PSI (before 4.20, or booted with psi=0).
func readPressure(ctx context.Context, resource string) (*PressureStat, error) {
	path := Path(ctx, common.HostProcEnvKey, "pressure", resource)
	var ps PressureStat
	err := withProcFile(path, func(b []byte) error {
		if v, ok := lineValue(b, "some"); ok {
			ps.Some = parsePressure(v)
		}
		if v, ok := lineValue(b, "full"); ok {
			ps.Full = parsePressure(v)
		}
		return nil
	})
	if err != nil {
		// A kernel without PSI support answers EOPNOTSUPP on read.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errors.ErrUnsupported) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s pressure: %w", resource, err)
	}
	if ps.Some == nil && ps.Full == nil {
		return nil, fmt.Errorf("parsing %s: no some or full line", path)
	}
	return &ps, nil
}

// parsePressure parses "avg10=0.00 avg60=0.00 avg300=0.00 total=0".
func parsePressure(v []byte) *Pressure {
	var p Pressure
	for _, f := range bytes.Fields(v) {
		k, val, ok := bytes.Cut(f, []byte{'='})
		if !ok {
			continue
		}
		switch string(k) {
		case "avg10":
			p.Avg10, _ = strconv.ParseFloat(string(val), 64)
		case "avg60":
			p.Avg60, _ = strconv.ParseFloat(string(val), 64)
		case "avg300":
			p.Avg300, _ = strconv.ParseFloat(string(val), 64)
		case "total":
			p.TotalMicros, _ = strconv.ParseUint(string(val), 10, 64)
		}
	}
	return &p
}

// hundredths rounds x to two decimals, enough for percentages and ratios
// and stable in golden files.
func hundredths(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return math.Round(x*100) / 100
}

// shareOf returns part/whole rounded to four decimals, 0 when whole is 0.
func shareOf(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return math.Round(float64(part)/float64(whole)*1e4) / 1e4
}
