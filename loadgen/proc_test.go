package loadgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeProc points procRoot at a tree of files for the test.
func fakeProc(t *testing.T, files map[string]string) {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := procRoot
	procRoot = root
	t.Cleanup(func() { procRoot = old })
}

func TestProcessFigures(t *testing.T) {
	fakeProc(t, map[string]string{
		"41/status": "Name:\tsonde-collector\nVmPeak:\t  900000 kB\nVmRSS:\t  123456 kB\nThreads:\t9\n",
		// A command name with a space and a parenthesis must not shift the fields.
		"41/stat":               "41 (sonde (x) y) S 1 41 41 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 1000 500",
		"42/comm":               "sonde-collector\n",
		"43/comm":               "sonde-agent\n",
		"self/comm":             "sonde-collector\n", // not a PID
		"loadavg":               "1.50 2.25 3.00 2/300 999\n",
		"sys/net/core/rmem_max": "7500000\n",
		"sys/net/core/wmem_max": "212992\n",
		"bad/status":            "VmRSS:\t12 MB\n",
	})
	p := Process{PID: 41}
	if rss, err := p.RSS(); err != nil || rss != 123456<<10 {
		t.Errorf("RSS %d, %v", rss, err)
	}
	if cpu, err := p.CPU(); err != nil || cpu != 3250*time.Millisecond {
		t.Errorf("CPU %v, %v; want 3.25s (325 ticks)", cpu, err)
	}
	if _, err := (Process{PID: 99}).RSS(); err == nil {
		t.Error("a missing process has an RSS")
	}
	if _, err := statusKB([]byte("VmRSS:\t12 MB\n"), "VmRSS"); err == nil {
		t.Error("a line not in kB was read")
	}
	if _, err := statCPU([]byte("41 (x) S 1 2")); err == nil {
		t.Error("a short stat was read")
	}
	if found, err := FindProcess("sonde-collector"); err != nil || found.PID != 42 {
		t.Errorf("FindProcess: %v, %v; want 42", found, err)
	}
	if _, err := FindProcess("sonde"); err == nil || !strings.Contains(err.Error(), "--collector-pid") {
		t.Errorf("no such process: %v", err)
	}
	if got := LoadAvg(); got != "1.50 2.25 3.00" {
		t.Errorf("load average %q", got)
	}
	rmem, wmem, ok, err := UDPBuffers()
	if err != nil || rmem != 7500000 || wmem != 212992 || ok {
		t.Errorf("UDP buffers %d %d %v %v; want 7500000, 212992, not set", rmem, wmem, ok, err)
	}
}

func TestFindProcessAmbiguous(t *testing.T) {
	fakeProc(t, map[string]string{"7/comm": "sonde-collector\n", "8/comm": "sonde-collector\n"})
	if _, err := FindProcess("sonde-collector"); err == nil || !strings.Contains(err.Error(), "2 processes") {
		t.Errorf("two collectors: %v", err)
	}
}
