package linux

// The units, the maintainer scripts and the configuration files the
// packages install, checked on their own.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sondehq/sonde/agent/config"
)

// unitFile returns one of the embedded unit files.
func unitFile(t *testing.T, name string) string {
	t.Helper()
	b, err := assets.ReadFile("files/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unitSettings returns a unit file's settings: each key's values in order.
func unitSettings(unit string) map[string][]string {
	m := map[string][]string{}
	for line := range strings.Lines(unit) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		m[k] = append(m[k], v)
	}
	return m
}

// execStart returns the words of a unit's only ExecStart line.
func execStart(unit string) ([]string, error) {
	lines := unitSettings(unit)["ExecStart"]
	if len(lines) != 1 {
		return nil, fmt.Errorf("%d ExecStart lines, want one", len(lines))
	}
	return strings.Fields(lines[0]), nil
}

func TestUnits(t *testing.T) {
	hardening := map[string]string{
		"ProtectSystem": "strict", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
		"Restart": "on-failure", "Type": "simple",
	}
	for _, c := range []struct {
		unit  string
		exec  string
		state string
		want  map[string]string
	}{
		{"sonde-agent.service", "/usr/bin/sonde-agent run --state /var/lib/sonde-agent --log-format json", "sonde-agent", map[string]string{
			"ProtectHome": "read-only", "StateDirectoryMode": "0700",
			"ReadWritePaths":        "-/var/lib/sonde-agent-public -/etc/sonde-agent",
			"CapabilityBoundingSet": "CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_SYS_ADMIN CAP_SYS_RAWIO CAP_NET_ADMIN CAP_SYSLOG",
		}},
		{"sonde-collector.service", "/usr/bin/sonde-collector serve --data /var/lib/sonde-collector --log-format json $SONDE_COLLECTOR_FLAGS", "sonde-collector", map[string]string{
			"User": "sonde", "Group": "sonde", "ProtectHome": "yes", "StateDirectoryMode": "0700",
			"CapabilityBoundingSet": "", "AmbientCapabilities": "", "PrivateDevices": "yes",
			"EnvironmentFile": "-/etc/sonde-collector/collector.env",
		}},
	} {
		text := unitFile(t, c.unit)
		s := unitSettings(text)
		words, err := execStart(text)
		if err != nil || strings.Join(words, " ") != c.exec {
			t.Errorf("%s: ExecStart %q (%v), want %q", c.unit, words, err, c.exec)
		}
		for k, v := range hardening {
			c.want[k] = v
		}
		c.want["StateDirectory"] = c.state
		c.want["WantedBy"] = "multi-user.target"
		for k, v := range c.want {
			if got := s[k]; len(got) != 1 || got[0] != v {
				t.Errorf("%s: %s=%q, want %q", c.unit, k, got, v)
			}
		}
		if len(s["RestartSec"]) != 1 {
			t.Errorf("%s: no RestartSec", c.unit)
		}
	}
	// The agent reads enroll.env itself (and deletes it): systemd must
	// not hand it to the agent as its environment.
	if s := unitSettings(unitFile(t, "sonde-agent.service")); len(s["EnvironmentFile"]) != 0 || len(s["User"]) != 0 {
		t.Errorf("sonde-agent.service: EnvironmentFile %q, User %q: want neither", s["EnvironmentFile"], s["User"])
	}
}

// TestStartHints checks that what the scripts say to run where systemd
// does not is what the units run.
func TestStartHints(t *testing.T) {
	for _, c := range []struct{ script, unit, prefix string }{
		{"agent", "sonde-agent.service", "start the agent with: "},
		{"collector", "sonde-collector.service", "start the collector with: runuser -u sonde -- "},
	} {
		words, err := execStart(unitFile(t, c.unit))
		if err != nil {
			t.Fatal(err)
		}
		cmd := strings.Join(slices.DeleteFunc(words, func(w string) bool { return strings.HasPrefix(w, "$") }), " ")
		if c.script == "collector" {
			cmd = strings.TrimSuffix(cmd, " --log-format json")
		}
		script, err := assets.ReadFile("scripts/" + c.script + ".sh")
		if err != nil {
			t.Fatal(err)
		}
		if want := `START_HINT="` + c.prefix + cmd + `"`; !strings.Contains(string(script), want) {
			t.Errorf("scripts/%s.sh has no %s", c.script, want)
		}
	}
}

func TestMaintainerScriptsParse(t *testing.T) {
	var shells []string
	for _, sh := range []string{"sh", "dash", "bash", "busybox"} {
		if _, err := exec.LookPath(sh); err == nil {
			shells = append(shells, sh)
		}
	}
	if len(shells) == 0 {
		t.Fatal("no sh here: these tests run the maintainer scripts with sh")
	}
	for _, p := range packages {
		for _, f := range formats {
			for _, phase := range []string{f.phases.PostInstall, f.phases.PreRemove, f.phases.PostRemove} {
				text, err := p.maintainerScript(phase)
				if err != nil {
					t.Fatal(err)
				}
				for _, sh := range shells {
					args := []string{"-n"}
					if sh == "busybox" {
						args = []string{"sh", "-n"}
					} else if sh == "bash" {
						args = []string{"--posix", "-n"}
					}
					cmd := exec.Command(sh, args...)
					cmd.Stdin = bytes.NewReader(text)
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Errorf("%s %s: %s %v: %v\n%s", p.name, phase, sh, args, err, out)
					}
				}
			}
		}
	}
}

func TestAgentConfigExample(t *testing.T) {
	raw, err := assets.ReadFile("files/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(raw)
	if err != nil || len(c.Reachability) != 0 {
		t.Fatalf("the shipped agent.yaml: %+v, %v; want no targets", c, err)
	}
	// Its example, uncommented, is a valid configuration.
	var example []string
	for line := range strings.Lines(string(raw)) {
		for _, key := range []string{"#reachability:", "#  - ", "#proxy:", "#proxy_password_file:", "#no_proxy:"} {
			if strings.HasPrefix(line, key) {
				example = append(example, line[1:])
			}
		}
	}
	c, err = config.Parse([]byte(strings.Join(example, "")))
	if err != nil || len(c.Reachability) != 4 || c.Proxy == "" || len(c.NoProxy) != 2 {
		t.Errorf("the example uncommented: %+v, %v; want 4 targets, a proxy and 2 exemptions", c, err)
	}
}

func TestSysctl(t *testing.T) {
	raw, err := assets.ReadFile("files/60-sonde-collector.conf")
	if err != nil {
		t.Fatal(err)
	}
	// quic-go asks for 7 MiB buffers (desiredBufferSize); the ceilings
	// must allow it.
	const quicGoWants = 7 << 20
	got := map[string]int{}
	for line := range strings.Lines(string(raw)) {
		var k string
		var v int
		if _, err := fmt.Sscanf(line, "%s = %d", &k, &v); err == nil {
			got[k] = v
		}
	}
	for _, k := range []string{"net.core.rmem_max", "net.core.wmem_max"} {
		if got[k] != 7500000 || got[k] < quicGoWants {
			t.Errorf("%s = %d, want 7500000 (at least %d)", k, got[k], quicGoWants)
		}
	}
	if len(got) != 2 {
		t.Errorf("settings %v, want rmem_max and wmem_max only", got)
	}
	if script, _ := assets.ReadFile("scripts/collector.sh"); !bytes.Contains(script, []byte("want=7500000")) {
		t.Error("scripts/collector.sh does not compare the ceilings with 7500000")
	}
}

// TestPlaceEnrollment runs the agent package's place_enrollment with the
// settings an installer may have in its environment, on a scratch state
// dir and configuration folder.
func TestPlaceEnrollment(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the enrollment file is made root's: run as root (make test does)")
	}
	var lib []byte
	for _, part := range []string{"common", "agent"} {
		b, err := assets.ReadFile("scripts/" + part + ".sh")
		if err != nil {
			t.Fatal(err)
		}
		lib = append(lib, b...)
	}
	full := []string{"SONDE_ENROLL_COLLECTOR=collector.example:7443", "SONDE_ENROLL_TOKEN=tok_123-ABC", "SONDE_ENROLL_CA_PIN=sha256:0a1b"}
	for _, c := range []struct {
		name      string
		env       []string
		enrolled  bool   // agent.json is there
		placed    string // enroll.env is there with this
		wantFile  bool
		wantWords string
	}{
		{name: "nothing set", wantWords: ""},
		{name: "all set", env: full, wantFile: true, wantWords: "enrollment settings written"},
		{name: "one missing", env: full[:2], wantWords: "go together"},
		{name: "a newline", env: append(full[:2:2], "SONDE_ENROLL_CA_PIN=sha256:0a\nSONDE_X=1"), wantWords: "control characters"},
		{name: "a space", env: append(full[:1:1], "SONDE_ENROLL_TOKEN=tok 1", full[2]), wantWords: "spaces"},
		{name: "placed by the administrator", env: full, placed: "SONDE_ENROLL_TOKEN=mine\n", wantWords: "already there"},
		{name: "enrolled", env: full, enrolled: true, wantWords: "already enrolled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			state, conf := filepath.Join(dir, "state"), filepath.Join(dir, "conf")
			for _, d := range []string{state, conf} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if c.enrolled {
				os.WriteFile(filepath.Join(state, "agent.json"), []byte("{}"), 0o644)
			}
			file := filepath.Join(conf, "enroll.env")
			if c.placed != "" {
				os.WriteFile(file, []byte(c.placed), 0o640)
			}
			script := "set -e\n" + string(lib) + "\nSTATE=" + state + " CONF=" + conf + "\nplace_enrollment\necho done\n"
			cmd := exec.Command("sh", "-c", script)
			cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, c.env...)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.HasSuffix(string(out), "done\n") {
				t.Fatalf("place_enrollment failed: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), c.wantWords) || c.wantWords == "" && string(out) != "done\n" {
				t.Errorf("said %q, want %q", out, c.wantWords)
			}
			raw, err := os.ReadFile(file)
			switch {
			case c.placed != "":
				if string(raw) != c.placed {
					t.Errorf("the administrator's file became %q", raw)
				}
			case !c.wantFile:
				if err == nil {
					t.Errorf("enroll.env written:\n%s", raw)
				}
			default:
				fi, err := os.Stat(file)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("enroll.env: %v, mode %v", err, fi.Mode())
				}
				e, err := config.ParseEnrollment(raw)
				if err != nil || e != (config.Enrollment{Collector: "collector.example:7443", Token: "tok_123-ABC", CAPin: "sha256:0a1b"}) {
					t.Errorf("the agent reads %+v, %v from\n%s", e, err, raw)
				}
				if _, err := os.Stat(file + ".new"); err == nil {
					t.Error("enroll.env.new left behind")
				}
			}
		})
	}
}
