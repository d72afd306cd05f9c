//go:build linux

package probe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sondehq/sonde/agent/probe"
)

// ownersRoot is the fixture host whose /proc names the sockets' owners.
var ownersRoot = filepath.Join("testdata", "network", "owners", "root")

// collectOwners runs the network probe over the owners fixture with f's
// bounds and returns its result and what it scrubbed.
func collectOwners(t *testing.T, p probe.Probe) (*probe.NetworkResult, *probe.Env) {
	t.Helper()
	env := &probe.Env{}
	v, err := p.Collect(probe.WithRoot(context.Background(), ownersRoot), env)
	if err != nil {
		t.Fatal(err)
	}
	return v.(*probe.NetworkResult), env
}

func ownersProbe(t *testing.T, f probe.NetworkFakes) probe.Probe {
	f.Interfaces = interfacesFrom(t, filepath.Join("testdata", "network", "owners", "interfaces.json"))
	if f.Now == nil {
		f.Now = newStepClock().now
	}
	return probe.NewTestNetwork(f)
}

// owner returns the owner of the listening socket on port, and whether
// there is one.
func owner(r *probe.NetworkResult, proto string, port uint16) (probe.SocketOwner, bool) {
	for _, s := range r.Listening {
		if s.Proto == proto && s.Port == port {
			return s.SocketOwner, true
		}
	}
	return probe.SocketOwner{}, false
}

// TestNetworkOwnersScrubbed: an owner's command line carries a secret
// ("Canary"); it never leaves the probe, at the first call or the next
// (which reuses what it read), and each call counts what it scrubbed.
func TestNetworkOwnersScrubbed(t *testing.T) {
	p := ownersProbe(t, probe.NetworkFakes{})
	var first []byte
	for call := range 2 {
		r, env := collectOwners(t, p)
		b, _ := json.Marshal(r)
		if i := bytes.Index(b, []byte("Canary")); i >= 0 {
			t.Fatalf("call %d: a secret left the probe: …%s…", call, b[max(0, i-60):min(len(b), i+30)])
		}
		if len(env.ScrubCounts()) == 0 {
			t.Errorf("call %d: nothing counted as scrubbed", call)
		}
		if call == 0 {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Errorf("the second call differs:\n%s\n%s", first, b)
		}
	}
}

// TestNetworkOwnerBounds: the search for owners stops at its bounds of
// processes, descriptors and time, says so, and names the owners it found
// before it stopped.
func TestNetworkOwnerBounds(t *testing.T) {
	full, _ := collectOwners(t, ownersProbe(t, probe.NetworkFakes{}))
	if full.OwnersTruncated || full.OwnersNote != "" {
		t.Fatalf("the fixture's search stopped early: %q", full.OwnersNote)
	}
	// A clock that moves a second each time it is read.
	ticking := func() func() time.Time {
		c := newStepClock()
		return func() time.Time { c.advance(time.Second); return c.now() }
	}
	for _, tc := range []struct {
		name string
		f    probe.NetworkFakes
		note string
		// found and missing are TCP ports whose owner is found, or not.
		// Past the deadline, the owners found are not named either.
		found, missing uint16
	}{
		// In PID order: 1, 612 (sshd), 800, 1200 (nginx) ...
		{"processes", probe.NetworkFakes{OwnerPIDs: 2}, "stopped finding the sockets' owners after 2 processes", 22, 80},
		// 1 has four descriptors, 612 three, then 800's first is one too
		// many.
		{"descriptors", probe.NetworkFakes{OwnerFDs: 7}, "stopped finding the sockets' owners after 7 descriptors", 22, 80},
		// The clock reads t+1s to set the deadline at t+3.5s, then
		// t+2s and t+3s before PIDs 1 and 612, t+4s before 800.
		{"deadline", probe.NetworkFakes{OwnerBudget: 2500 * time.Millisecond, Now: ticking()},
			"stopped finding the sockets' owners after 2 processes, at the deadline", 22, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := collectOwners(t, ownersProbe(t, tc.f))
			if !r.OwnersTruncated || r.OwnersNote != tc.note {
				t.Errorf("truncated %v, note %q; want %q", r.OwnersTruncated, r.OwnersNote, tc.note)
			}
			if o, _ := owner(r, "tcp", tc.found); o.PID != 612 {
				t.Errorf("port %d: %+v, want PID 612", tc.found, o)
			}
			if o, ok := owner(r, "tcp", tc.missing); !ok || o.PID != 0 {
				t.Errorf("port %d: %+v, want no owner", tc.missing, o)
			}
			if len(r.Listening) != len(full.Listening) || len(r.Established) != len(full.Established) {
				t.Errorf("a search cut short left sockets out")
			}
		})
	}
}

// TestNetworkOwnerGone: a PID found holding a socket that exits before it
// is named is reported by PID alone.
func TestNetworkOwnerGone(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(ownersRoot)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "proc", "1450", "stat")); err != nil {
		t.Fatal(err)
	}
	v, err := ownersProbe(t, probe.NetworkFakes{}).Collect(probe.WithRoot(context.Background(), root), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := owner(v.(*probe.NetworkResult), "tcp", 5432)
	if o != (probe.SocketOwner{PID: 1450}) {
		t.Errorf("owner %+v, want PID 1450 alone", o)
	}
}

// TestNetworkOwnersRemembered: a later call reads first the one link each
// socket was found at before, and does not look again for the socket
// whose holder it could not see (port 9000's): over the fixture, one
// descriptor for each of the 15 owned sockets is enough then, where a
// first search needs more than the 21 descriptors of the nine owners.
func TestNetworkOwnersRemembered(t *testing.T) {
	fresh, _ := collectOwners(t, ownersProbe(t, probe.NetworkFakes{OwnerFDs: 21}))
	if !fresh.OwnersTruncated {
		t.Fatal("a first search within 21 descriptors found every owner")
	}
	p := ownersProbe(t, probe.NetworkFakes{})
	full, _ := collectOwners(t, p)
	probe.SetOwnerLimits(p, 1000, 15)
	again, _ := collectOwners(t, p)
	if again.OwnersTruncated {
		t.Fatalf("the second search stopped: %s", again.OwnersNote)
	}
	a, _ := json.Marshal(full)
	b, _ := json.Marshal(again)
	if !bytes.Equal(a, b) {
		t.Errorf("the second call differs:\n%s\n%s", a, b)
	}
	probe.SetOwnerLimits(p, 1000, 14)
	if short, _ := collectOwners(t, p); short.OwnersNote != "stopped finding the sockets' owners after 14 descriptors" {
		t.Errorf("15 owned sockets rechecked within 14 descriptors: %q", short.OwnersNote)
	}
	probe.SetOwnerLimits(p, 8, 1000)
	if third, _ := collectOwners(t, p); !third.OwnersTruncated {
		t.Error("nine owners found within eight processes")
	}
}

// TestNetworkOwnerRefused: a process whose descriptors may be listed but
// whose links the kernel refuses to show (one with more privileges than
// the agent) costs one refused link, not one for each descriptor, and the
// search goes on past it.
func TestNetworkOwnerRefused(t *testing.T) {
	full, _ := collectOwners(t, ownersProbe(t, probe.NetworkFakes{}))
	refused := 0
	readlink := func(dirfd int, path string, buf []byte) (int, error) {
		dir, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", dirfd))
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(filepath.Dir(dir)) == "1" || strings.HasPrefix(path, "1/") { // PID 1's, four descriptors
			refused++
			return 0, unix.EACCES
		}
		return unix.Readlinkat(dirfd, path, buf)
	}
	f := probe.NetworkFakes{Interfaces: interfacesFrom(t, filepath.Join("testdata", "network", "owners", "interfaces.json")), Now: newStepClock().now}
	r, _ := collectOwners(t, probe.NewTestNetworkReadlink(f, readlink))
	if refused != 1 {
		t.Errorf("%d of PID 1's links read, each refused; want the first only", refused)
	}
	if r.OwnersTruncated {
		t.Errorf("the search stopped: %s", r.OwnersNote)
	}
	for i, s := range full.Listening {
		want := s.SocketOwner
		if want.PID == 1 {
			want = probe.SocketOwner{}
		}
		if r.Listening[i].SocketOwner != want {
			t.Errorf("%s port %d: owner %+v, want %+v", s.Proto, s.Port, r.Listening[i].SocketOwner, want)
		}
	}
}
