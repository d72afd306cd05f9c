package probe

import (
	"context"
	"errors"
)

// newServices returns the services probe of this system.
func newServices() Probe { return servicesProbe{} }

// servicesProbe is not implemented on macOS yet: launchd has no public
// API that lists jobs and their state without running launchctl, which the
// agent never forks. SMJobCopyDictionary is deprecated, needs cgo and reads
// one job at a time; the XPC interface launchctl speaks is private.
type servicesProbe struct{}

func (servicesProbe) Name() string { return "services" }

func (servicesProbe) Collect(context.Context, *Env) (any, error) {
	return nil, errors.New("services: not supported yet on macOS")
}
