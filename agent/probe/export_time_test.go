package probe

import "time"

// KernelClock is what the time probe reads from adjtimex(2).
type KernelClock = kernelClock

// TimeFakes replaces the time probe's clock, adjtimex and environment.
type TimeFakes struct {
	Now      func() time.Time
	Adjtimex func() (KernelClock, error)
	TZ       string
	Local    *time.Location
}

// NewTestTime returns a time probe that asks f instead of the host.
func NewTestTime(f TimeFakes) Probe {
	return &timeProbe{
		now:      f.Now,
		adjtimex: f.Adjtimex,
		getenv: func(k string) string {
			if k == "TZ" {
				return f.TZ
			}
			return ""
		},
		local: f.Local,
	}
}
