package probe_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/winreg"
)

// exportOf reads a case's .reg export, or an empty registry.
func exportOf(t *testing.T, path string) winreg.Reader {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		b = []byte("Windows Registry Editor Version 5.00\n")
	} else if err != nil {
		t.Fatal(err)
	}
	e, err := winreg.ParseExport(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return e
}

func TestVPN(t *testing.T) {
	for name, goos := range map[string]string{"laptop": "linux", "server": "linux", "windows": "windows", "macos": "darwin"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "vpn", name)
			p := probe.NewTestVPN(goos, interfacesJSON(t, filepath.Join(dir, "interfaces.json")), exportOf(t, filepath.Join(dir, "network.reg")))
			goldenOrError(t, p, &probe.Env{}, dir)
		})
	}
}

// TestVPNHost runs the probe on this machine: whatever it finds, every
// tunnel says why it is one.
func TestVPNHost(t *testing.T) {
	p, _ := probe.New("vpn")
	v, err := p.Collect(context.Background(), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*probe.VPNResult)
	if len(r.Errors) > 0 {
		t.Errorf("errors: %q", r.Errors)
	}
	for _, tn := range r.Tunnels {
		if tn.Kind == "" || len(tn.Evidence) == 0 {
			t.Errorf("tunnel without kind or evidence: %+v", tn)
		}
	}
}
