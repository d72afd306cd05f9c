package probe

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestVPNKeptWhileLinksUnchanged: the vpn probe reads the interfaces'
// files again only when the interface list's generation moved: a tunnel
// removed from /sys still shows while it has not (the kernel would have
// announced its removal), and is gone once it has. What Collect adds to a
// kept tunnel (its addresses, up or down) is not kept with it.
func TestVPNKeptWhileLinksUnchanged(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", "vpn", "laptop", "root"))); err != nil {
		t.Fatal(err)
	}
	gen := uint64(1)
	up := []NetworkInterface{{Name: "wg0", Flags: []string{"up"}, Addrs: []string{"10.0.0.2/32"}}}
	ifs := up
	p := &vpnProbe{goos: "linux", interfaces: func() ([]NetworkInterface, error) { return cloneInterfaces(ifs), nil },
		linux: linkMemo[tunnelsRead]{gen: func() (uint64, bool) { return gen, true }}}
	ctx := WithRoot(context.Background(), root)
	tunnel := func(step string) *VPNTunnel {
		t.Helper()
		v, err := p.Collect(ctx, &Env{})
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		for _, tn := range v.(*VPNResult).Tunnels {
			if tn.Name == "wg0" {
				return &tn
			}
		}
		return nil
	}
	if tn := tunnel("first"); tn == nil || !tn.Up || len(tn.Addrs) != 1 {
		t.Fatalf("first: wg0 %+v", tn)
	}
	if err := os.RemoveAll(filepath.Join(root, "sys", "class", "net", "wg0")); err != nil {
		t.Fatal(err)
	}
	ifs = nil
	if tn := tunnel("same generation"); tn == nil || tn.Up || tn.Present || len(tn.Addrs) != 0 {
		t.Fatalf("same generation: wg0 %+v; want it kept, without the first call's state", tn)
	}
	gen++
	if tn := tunnel("moved"); tn != nil {
		t.Fatalf("moved: wg0 %+v still listed", tn)
	}
}
