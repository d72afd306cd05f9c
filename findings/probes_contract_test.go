package findings

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// probeGolden is a probe's output on one of its fixture machines, as the
// agent's probe tests pin it (agent/probe/testdata/PROBE/CASE/expected.json).
func probeGolden(t *testing.T, name, fixture string) protocol.ProbeJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "agent", "probe", "testdata", name, fixture, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	return protocol.ProbeJSON{Name: name, Data: json.RawMessage(b)}
}

// TestCheckOnProbeFixtures is the contract between the probes and the
// analyzers, and what `sonde-agent check` tells the person at the
// keyboard: on the laptop fixtures, as the disk, disk-usage, hardware,
// storage-health, logs, wifi, proxy and security probes read them, it
// explains full disks and what fills them, a worn battery, a failing disk,
// the programs killed for memory, a weak Wi-Fi signal and a broken proxy,
// in plain words. (The server fixtures give a failing SATA
// disk and an unencrypted system disk.)
func TestCheckOnProbeFixtures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		probes   []protocol.ProbeJSON
		want     []string // finding IDs
		sentence []string // from the user explanations
	}{
		{"laptop", []protocol.ProbeJSON{probeGolden(t, "disk", "laptop"), probeGolden(t, "disk-usage", "laptop"), probeGolden(t, "hardware", "laptop"), probeGolden(t, "storage-health", "laptop"), probeGolden(t, "logs", "linux-laptop"),
			probeGolden(t, "wifi", "laptop"), probeGolden(t, "proxy", "laptop"), probeGolden(t, "security", "laptop")},
			[]string{"hardware.battery-worn", "storage.failing", "storage.worn-out", "logs.oom-kills", "logs.disk-io-errors",
				"wifi.weak-signal", "proxy.misconfigured", "proxy.conflicting", "disk.almost-full"},
			[]string{"battery has worn out", "disk is reporting faults", "ran out of memory", "Wi-Fi signal is weak",
				"The memory-backed file system at /dev/shm is 98% full; largest:", "/dev/shm/.org.chromium.Chromium.x1Yz2 6.0 GiB",
				"The disk at /data is 95% full; largest: /data/vm 58.0 GiB"}},
		{"server", []protocol.ProbeJSON{probeGolden(t, "hardware", "server"), probeGolden(t, "storage-health", "server"), probeGolden(t, "security", "server")},
			[]string{"storage.failing", "security.disk-unencrypted", "security.auto-updates-off"}, []string{"disk is reporting faults", "disk is not encrypted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := &protocol.Document{Kind: "full", Probes: tc.probes}
			var out bytes.Buffer
			if err := Check(&out, doc, nil); err != nil {
				t.Fatal(err)
			}
			text := out.String()
			for _, id := range tc.want {
				if !strings.Contains(text, "Reference for your IT support: "+id+"\n") {
					t.Errorf("check does not explain %s:\n%s", id, text)
				}
			}
			for _, s := range tc.sentence {
				if !strings.Contains(text, s) {
					t.Errorf("check does not say %q:\n%s", s, text)
				}
			}
		})
	}
}

// TestListenerStoppedOnProbeFixture: on the network probe's server whose
// /proc names the sockets' owners, a later snapshot in which nothing
// listens on 8080 any more names nginx, as the probe read it.
func TestListenerStoppedOnProbeFixture(t *testing.T) {
	before := probeGolden(t, "network", "owners")
	var data map[string]any
	if err := json.Unmarshal(before.Data, &data); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, s := range data["listening"].([]any) {
		if s.(map[string]any)["port"] != 8080.0 {
			kept = append(kept, s)
		}
	}
	data["listening"] = kept
	after, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	history := []*protocol.Document{{Kind: "full", Probes: []protocol.ProbeJSON{before}}}
	doc := &protocol.Document{Kind: "full", Probes: []protocol.ProbeJSON{{Name: "network", Data: after}}}
	fs := Analyze(doc, history)
	if len(fs) != 1 || fs[0].ID != "network.listener-stopped" ||
		fs[0].Title != "The service on :8080 (nginx, PID 1200) stopped listening since the last snapshot" ||
		fs[0].Evidence["cmdline"] != "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;" || fs[0].Evidence["user"] != "root" {
		t.Errorf("findings %+v", fs)
	}
	if fs := Analyze(&protocol.Document{Kind: "full", Probes: []protocol.ProbeJSON{before}}, history); len(fs) != 0 {
		t.Errorf("the same snapshot again: %+v", fs)
	}
}
