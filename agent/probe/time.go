package probe

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/common"
)

func init() {
	Register("time", Spec{Platforms: Everywhere}, func() Probe {
		return &timeProbe{now: time.Now, adjtimex: readKernelClock, getenv: os.Getenv, local: time.Local}
	})
}

// timeProbe reports the time, the time zone, whether the kernel believes its
// clock synchronised, and how far it is from the collector's.
type timeProbe struct {
	now      func() time.Time
	adjtimex func() (kernelClock, error)
	getenv   func(string) string
	// local is the zone Go chose at start-up, used when /etc/localtime
	// cannot tell (TZ set, no such file, Windows).
	local *time.Location
}

// kernelClock is what adjtimex(2) says with modes 0, which reads without
// changing anything and needs no privilege.
type kernelClock struct {
	State    int   // TIME_OK, TIME_INS ... TIME_ERROR
	Status   int32 // STA_* bits
	Offset   int64 // µs, or ns with STA_NANO
	Freq     int64 // ppm with a 16-bit fraction
	MaxError int64 // µs
	EstError int64 // µs
}

// Bits of kernelClock.Status, from linux/timex.h.
const (
	staUnsync = 0x0040
	staNano   = 0x2000
)

// maxSyncedError is the largest error at which systemd's timedatectl still
// calls the clock synchronised; the kernel raises maxerror by 500 ppm while
// nobody disciplines the clock and caps it at 16 s.
const maxSyncedError = 16_000_000 // µs

// TimeResult is the time probe's full result.
type TimeResult struct {
	Now              string         `json:"now"`
	Timezone         string         `json:"timezone,omitempty"`
	Zone             string         `json:"zone"`
	UTCOffsetSeconds int            `json:"utc_offset_seconds"`
	Sync             TimeSync       `json:"sync"`
	Collector        *TimeCollector `json:"collector,omitempty"`
}

// TimeSync is the kernel's view of its clock's discipline (NTP, PTP).
type TimeSync struct {
	Known      bool    `json:"known"`
	Synced     bool    `json:"synced"`
	State      string  `json:"state,omitempty"`
	OffsetMS   float64 `json:"offset_ms"`
	EstErrorMS float64 `json:"est_error_ms"`
	MaxErrorMS float64 `json:"max_error_ms"`
	FreqPPM    float64 `json:"freq_ppm"`
	Error      string  `json:"error,omitempty"`
}

// TimeCollector is the collector's clock minus this machine's, as measured
// at the agent's last hello.
type TimeCollector struct {
	Known    bool    `json:"known"`
	OffsetMS float64 `json:"offset_ms"`
	RTTMS    float64 `json:"rtt_ms"`
}

// TimeHealth is the time probe's light result.
type TimeHealth struct {
	Synced    bool           `json:"synced"`
	SyncKnown bool           `json:"sync_known"`
	Collector *TimeCollector `json:"collector,omitempty"`
}

func (p *timeProbe) Name() string { return "time" }

func (p *timeProbe) Collect(ctx context.Context, env *Env) (any, error) {
	sync := p.sync()
	collector := collectorOffset(env.Collector)
	if env.Health {
		return &TimeHealth{Synced: sync.Synced, SyncKnown: sync.Known, Collector: collector}, nil
	}
	name, loc := p.zone(ctx)
	now := p.now().In(loc)
	zone, offset := now.Zone()
	return &TimeResult{
		Now:              now.UTC().Format(time.RFC3339Nano),
		Timezone:         name,
		Zone:             zone,
		UTCOffsetSeconds: offset,
		Sync:             sync,
		Collector:        collector,
	}, nil
}

// sync interprets adjtimex's answer; the clock counts as synchronised as
// timedatectl has it (see maxSyncedError).
func (p *timeProbe) sync() TimeSync {
	k, err := p.adjtimex()
	if err != nil {
		return TimeSync{Error: err.Error()}
	}
	offset := float64(k.Offset) / 1e3
	if k.Status&staNano != 0 {
		offset = float64(k.Offset) / 1e6
	}
	states := [...]string{"ok", "insert", "delete", "leap", "wait", "error"}
	s := TimeSync{
		Known:      true,
		Synced:     k.Status&staUnsync == 0 && k.MaxError < maxSyncedError,
		State:      fmt.Sprint(k.State),
		OffsetMS:   offset,
		EstErrorMS: float64(k.EstError) / 1e3,
		MaxErrorMS: float64(k.MaxError) / 1e3,
		FreqPPM:    float64(k.Freq) / 65536,
	}
	if k.State >= 0 && k.State < len(states) {
		s.State = states[k.State]
	}
	return s
}

// zone names the machine's time zone and loads it: from TZ when set (Go
// honoured it at start-up), else from /etc/localtime under the host root.
func (p *timeProbe) zone(ctx context.Context) (string, *time.Location) {
	if tz := p.getenv("TZ"); tz != "" {
		return strings.TrimPrefix(tz, ":"), p.local
	}
	path := Path(ctx, common.HostEtcEnvKey, "localtime")
	data, err := os.ReadFile(path)
	if err != nil {
		// Without /etc/localtime, glibc and Go both use UTC, and Go then
		// names time.Local "UTC".
		return localName(p.local), p.local
	}
	name := ""
	if target, err := os.Readlink(path); err == nil {
		if i := strings.LastIndex(target, "zoneinfo/"); i >= 0 {
			name = target[i+len("zoneinfo/"):]
		}
	}
	if name == "" {
		// A copy rather than a link; Debian also writes the name here.
		if b, err := os.ReadFile(Path(ctx, common.HostEtcEnvKey, "timezone")); err == nil {
			name = string(bytes.TrimSpace(b))
		}
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return localName(p.local), p.local
	}
	return name, loc
}

// localName is a zone's name unless Go only knows it as "Local".
func localName(loc *time.Location) string {
	if n := loc.String(); n != "Local" {
		return n
	}
	return ""
}

// collectorOffset reports the offset measured at the last hello, nil
// without a collector.
func collectorOffset(c *Collector) *TimeCollector {
	if c == nil || c.Offset == nil {
		return nil
	}
	offset, rtt, ok := c.Offset()
	if !ok {
		return &TimeCollector{}
	}
	return &TimeCollector{Known: true, OffsetMS: millis(offset), RTTMS: millis(rtt)}
}
