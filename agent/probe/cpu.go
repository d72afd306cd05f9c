package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/shirou/gopsutil/v3/common"
	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/load"
)

func init() {
	Register("cpu", Spec{Platforms: Everywhere}, func() Probe { return &cpuProbe{} })
}

// cpuProbe reports the processor, its usage since the previous call, the
// load averages and CPU pressure.
type cpuProbe struct {
	// static is read on the first full call: parsing /proc/cpuinfo and the
	// topology files costs milliseconds on a large machine.
	static *CPUStatic
	// prev are the cumulative times of the previous call; zero before the
	// first, so that the first usage is the average since boot.
	prev cpu.TimesStat
}

// CPUStatic is what does not change while the machine runs.
type CPUStatic struct {
	Model         string `json:"model,omitempty"`
	Vendor        string `json:"vendor,omitempty"`
	PhysicalCores int    `json:"physical_cores,omitempty"`
	LogicalCores  int    `json:"logical_cores"`
}

// CPUResult is the cpu probe's full result.
type CPUResult struct {
	CPUStatic
	// IntervalSeconds is the wall time the usage covers: since the previous
	// call, or since boot on the first.
	IntervalSeconds float64       `json:"interval_seconds"`
	Usage           CPUUsage      `json:"usage_percent"`
	Load            CPULoad       `json:"load"`
	Pressure        *PressureStat `json:"pressure,omitempty"`
	Errors          []string      `json:"errors,omitempty"`
}

// CPUUsage splits the CPU time of an interval by state, in percent of all
// CPUs' time. Total is everything but idle and iowait.
type CPUUsage struct {
	Total  float64 `json:"total"`
	User   float64 `json:"user"`   // user and nice
	System float64 `json:"system"` // system, irq and softirq
	IOWait float64 `json:"iowait"`
	Steal  float64 `json:"steal"`
	Idle   float64 `json:"idle"`
}

// CPULoad holds the load averages over 1, 5 and 15 minutes.
type CPULoad struct {
	Load1  float64 `json:"load1"`
	Load5  float64 `json:"load5"`
	Load15 float64 `json:"load15"`
}

// CPUHealth is the cpu probe's light result.
type CPUHealth struct {
	UsagePercent float64 `json:"usage_percent"`
	CPULoad
}

func (p *cpuProbe) Name() string { return "cpu" }

func (p *cpuProbe) Collect(ctx context.Context, env *Env) (any, error) {
	times, err := readCPUTimes(ctx)
	if err != nil {
		return nil, err
	}
	usage, seconds := cpuUsage(p.prev, times)
	p.prev = times
	l, err := readLoad(ctx)
	if err != nil {
		return nil, err
	}
	if env.Health {
		return &CPUHealth{UsagePercent: usage.Total, CPULoad: l}, nil
	}

	r := &CPUResult{Usage: usage, Load: l}
	if p.static == nil {
		s, err := readCPUStatic(ctx)
		if err != nil {
			r.Errors = append(r.Errors, err.Error())
		} else {
			p.static = &s
		}
	}
	if p.static != nil {
		r.CPUStatic = *p.static
		if p.static.LogicalCores > 0 {
			r.IntervalSeconds = hundredths(seconds / float64(p.static.LogicalCores))
		}
	}
	if r.Pressure, err = readPressure(ctx, "cpu"); err != nil {
		r.Errors = append(r.Errors, err.Error())
	}
	return r, nil
}

// cpuUsage returns the usage between two cumulative samples and the CPU
// seconds, summed over all CPUs, between them. Counters that went back
// (iowait may, on Linux) count as zero.
func cpuUsage(prev, cur cpu.TimesStat) (CPUUsage, float64) {
	d := func(a, b float64) float64 {
		if b > a {
			return b - a
		}
		return 0
	}
	user := d(prev.User, cur.User) + d(prev.Nice, cur.Nice)
	system := d(prev.System, cur.System) + d(prev.Irq, cur.Irq) + d(prev.Softirq, cur.Softirq)
	idle, iowait, steal := d(prev.Idle, cur.Idle), d(prev.Iowait, cur.Iowait), d(prev.Steal, cur.Steal)
	total := user + system + idle + iowait + steal
	if total == 0 {
		return CPUUsage{}, 0
	}
	pct := func(x float64) float64 { return hundredths(x / total * 100) }
	return CPUUsage{
		Total:  pct(user + system + steal),
		User:   pct(user),
		System: pct(system),
		IOWait: pct(iowait),
		Steal:  pct(steal),
		Idle:   pct(idle),
	}, total
}

// readCPUTimes returns the cumulative times of all CPUs, from the first
// line of /proc/stat read in place, else (elsewhere than Linux) from
// gopsutil, which reads the same line through three times the system calls.
func readCPUTimes(ctx context.Context) (cpu.TimesStat, error) {
	var t cpu.TimesStat
	err := withProcFile(Path(ctx, common.HostProcEnvKey, "stat"), func(b []byte) error {
		v, ok := lineValue(b, "cpu")
		if !ok {
			return errors.New("no cpu line")
		}
		for i, f := range bytes.Fields(v) {
			x, err := strconv.ParseUint(string(f), 10, 64)
			if err != nil {
				return fmt.Errorf("parsing cpu line: %w", err)
			}
			s := float64(x) / cpu.ClocksPerSec
			switch i {
			case 0:
				t.User = s
			case 1:
				t.Nice = s
			case 2:
				t.System = s
			case 3:
				t.Idle = s
			case 4:
				t.Iowait = s
			case 5:
				t.Irq = s
			case 6:
				t.Softirq = s
			case 7:
				t.Steal = s
			}
		}
		return nil
	})
	if err == nil {
		return t, nil
	}
	times, err2 := cpu.TimesWithContext(ctx, false)
	if err2 != nil || len(times) == 0 {
		return t, fmt.Errorf("reading cpu times: %w", err)
	}
	return times[0], nil
}

// readLoad returns the load averages from /proc/loadavg read in place,
// else from gopsutil (sysctl or the like elsewhere than Linux).
func readLoad(ctx context.Context) (CPULoad, error) {
	var l CPULoad
	err := withProcFile(Path(ctx, common.HostProcEnvKey, "loadavg"), func(b []byte) error {
		f := bytes.Fields(b)
		if len(f) < 3 {
			return errors.New("short loadavg")
		}
		var err [3]error
		l.Load1, err[0] = strconv.ParseFloat(string(f[0]), 64)
		l.Load5, err[1] = strconv.ParseFloat(string(f[1]), 64)
		l.Load15, err[2] = strconv.ParseFloat(string(f[2]), 64)
		return errors.Join(err[:]...)
	})
	if err == nil {
		return l, nil
	}
	avg, err := load.AvgWithContext(ctx)
	if err != nil {
		return l, fmt.Errorf("reading load averages: %w", err)
	}
	return CPULoad{Load1: avg.Load1, Load5: avg.Load5, Load15: avg.Load15}, nil
}

// readCPUStatic reads the processor's model and core counts.
func readCPUStatic(ctx context.Context) (CPUStatic, error) {
	var s CPUStatic
	infos, err := cpu.InfoWithContext(ctx)
	if err != nil && len(infos) == 0 {
		return s, fmt.Errorf("reading cpu info: %w", err)
	}
	if len(infos) > 0 {
		s.Model, s.Vendor = infos[0].ModelName, infos[0].VendorID
	}
	if s.LogicalCores, err = cpu.CountsWithContext(ctx, true); err != nil {
		return s, fmt.Errorf("counting logical cpus: %w", err)
	}
	if s.PhysicalCores, err = cpu.CountsWithContext(ctx, false); err != nil {
		return s, fmt.Errorf("counting physical cpus: %w", err)
	}
	return s, nil
}
