//go:build !linux && !windows && !darwin

package probe

import (
	"context"
	"fmt"
	"runtime"
)

// newServices returns the services probe of this system.
func newServices() Probe { return servicesProbe{} }

// servicesProbe knows no service manager on this system.
type servicesProbe struct{}

func (servicesProbe) Name() string { return "services" }

func (servicesProbe) Collect(context.Context, *Env) (any, error) {
	return nil, fmt.Errorf("services: not supported on %s", runtime.GOOS)
}
