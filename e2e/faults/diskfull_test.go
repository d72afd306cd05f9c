//go:build faults

package faults

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// TestCollectorDiskFull fills the disk under a collector while agents
// send: it must not crash nor ack what it could not store; once space
// frees, everything the agents kept arrives.
func TestCollectorDiskFull(t *testing.T) {
	disk := mountTmpfs(t, "24m")
	col := &harness.Collector{Bin: bin, Data: filepath.Join(disk, "data"), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	col.Start(t)
	f := newFleet(t, col, 4, "full", 64<<20)
	f.start(50 * time.Millisecond)
	harness.WaitFor(t, "snapshots to be delivered", 30*time.Second, func() bool { return f.delivered() >= 40 })

	filler := fill(t, disk)
	// Once the database can no longer grow, the collector refuses: the
	// agents keep their snapshots.
	harness.WaitFor(t, "the collector to refuse snapshots for want of space", 60*time.Second, func() bool {
		return strings.Contains(col.Proc.Output(), "snapshot not stored")
	})
	t.Logf("collector: %s", firstLine(col.Proc.Output(), "snapshot not stored"))
	harness.WaitFor(t, "the agents to keep what was refused", 30*time.Second, func() bool { return f.spoolRecords() > 20 })
	if col.Proc.Exited() {
		t.Fatalf("the collector died on a full disk")
	}

	os.Remove(filler)
	harness.WaitFor(t, "delivery to resume", 60*time.Second, func() bool {
		d := f.delivered()
		time.Sleep(500 * time.Millisecond)
		return f.delivered() > d
	})
	f.stop()
	f.replay()
	st := f.check(col)
	t.Logf("%d snapshots taken, stored once each across the full disk (%d rows); integrity_check ok", f.taken(), st.Rows)
}

// mountTmpfs mounts a tmpfs of the given size on a new folder for the test.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mounting a tmpfs (the fault tests run as root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full, and returns its
// name.
func fill(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	fh, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	block := make([]byte, 64<<10)
	for {
		if _, err := fh.Write(block); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	// Fill the last partial block too.
	for {
		if _, err := fh.Write(block[:512]); err != nil {
			return name
		}
	}
}

// firstLine returns the first line of out that contains s.
func firstLine(out, s string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// TestAgentSpoolDiskFull runs an agent whose collector is down on a spool
// disk far smaller than the spool's cap. The agent does not crash; it drops
// the oldest health snapshots to make room and keeps the full snapshot it
// took at the fault; once the disk has room and the collector is back,
// everything in the spool arrives.
func TestAgentSpoolDiskFull(t *testing.T) {
	col := &harness.Collector{Bin: bin, Data: t.TempDir(), QUIC: harness.FreeAddr(t), HTTP: harness.FreeAddr(t)}
	col.Start(t)
	disk := mountTmpfs(t, "512k")
	f := newFleetIn(t, col, 1, "spoolfull", 100<<20, disk)
	col.Proc.Stop(10 * time.Second)

	f.start(20 * time.Millisecond)
	a := f.agents[0]
	harness.WaitFor(t, "the fault snapshot in the spool", 60*time.Second, func() bool {
		return spooledTriggers(t, a)["collector-unreachable"] > 0
	})
	dropped := a.first.Delivery().Dropped
	harness.WaitFor(t, "the full disk to make the spool drop", 60*time.Second, func() bool {
		return a.first.Delivery().Dropped > dropped+20
	})
	d := a.first.Delivery()
	if d.Lost != 0 {
		t.Errorf("%d snapshots lost although older health snapshots could make room", d.Lost)
	}
	if held := spooledTriggers(t, a); held["collector-unreachable"] == 0 {
		t.Fatalf("the fault snapshot was dropped on the full disk: spool holds %v", held)
	}

	if out, err := exec.Command("mount", "-o", "remount,size=64m", disk).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v: %s", err, out)
	}
	dropped = a.first.Delivery().Dropped
	col.Start(t)
	harness.WaitFor(t, "the spool to drain", 60*time.Second, func() bool {
		n, _, _, _ := a.spool.Stats()
		return n == 0 && a.first.Delivery().Delivered > 0
	})
	f.stop()
	if d := a.first.Delivery(); d.Dropped != dropped {
		t.Errorf("dropped %d more snapshots after the disk had room", d.Dropped-dropped)
	}
	st, err := harness.ReadStore(t.Context(), col.DB())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for k, trig := range st.Trigger {
		found = found || (k.Agent == a.id.AgentID && trig == "collector-unreachable")
	}
	if !found {
		t.Error("the fault snapshot did not reach the collector")
	}
	t.Logf("agent: %+v; collector holds %d of its snapshots", *a.first.Delivery(), st.Rows)
}
