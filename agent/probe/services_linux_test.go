package probe_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/sondehq/sonde/agent/probe"
)

// TestServicesNoBus checks the error a container without systemd gets.
func TestServicesNoBus(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "system_bus_socket")
	p := probe.NewTestServices(func() (*dbus.Conn, error) { return dbus.Connect("unix:path=" + sock) })
	for _, health := range []bool{false, true} {
		v, err := p.Collect(context.Background(), &probe.Env{Health: health})
		if err == nil || !strings.HasPrefix(err.Error(), "systemd not reachable over D-Bus: ") {
			t.Errorf("health %v: got %v, %v; want a systemd not reachable error", health, v, err)
		}
	}
}
