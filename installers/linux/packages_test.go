//go:build packages

package linux

// The packages built from the real binaries, checked with dpkg, rpm and
// systemd-analyze, then installed on this machine (root, no systemd as
// PID 1): a collector from its package and an agent that enrolls with
// the settings its installer left, upgraded, removed and purged.
// `make test-packages` runs them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sondehq/sonde/installers/release"
)

var amd64 = release.Target{OS: "linux", Arch: "amd64"}

// releases are the releases built so far, by version, in one folder
// removed when the tests end.
var releases struct {
	dir string
	m   map[string]*release.Build
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sonde-linux-packages-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	releases.dir, releases.m = dir, map[string]*release.Build{}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// realRelease builds the binaries for linux/amd64 and their packages at
// the version SONDE_VERSION names, once per version. With reuse, the
// collector and the CLI are copied from that earlier release rather than
// linked again (an upgrade of the agent needs only a new agent).
func realRelease(t *testing.T, version string, reuse *release.Build) *release.Build {
	t.Helper()
	if b := releases.m[version]; b != nil {
		return b
	}
	ctx := context.Background()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SONDE_VERSION", version)
	b := &release.Build{Root: root, Out: filepath.Join(releases.dir, version)}
	if b.Version, err = release.Version(ctx, root); err != nil {
		t.Fatal(err)
	}
	if b.Epoch, err = release.Epoch(ctx, root); err != nil {
		t.Fatal(err)
	}
	programs := []string{release.Agent, release.Collector, release.CLI}
	if reuse != nil {
		for _, p := range programs[1:] {
			raw, err := os.ReadFile(reuse.Bin(p, amd64))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(b.Bin(p, amd64)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(b.Bin(p, amd64), raw, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		programs = programs[:1]
	}
	for _, p := range programs {
		if err := b.Binaries(ctx, p, []release.Target{amd64}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := build(ctx, b, []release.Target{amd64}); err != nil {
		t.Fatal(err)
	}
	releases.m[version] = b
	return b
}

func TestPlatformToolsReadThePackages(t *testing.T) {
	needTools(t, "dpkg-deb", "rpm")
	b := realRelease(t, "1.0.0", nil)
	for _, name := range []string{release.Agent, release.Collector} {
		deb := find(name, "deb").in(b)
		info := mustTool(t, nil, "dpkg-deb", "-I", deb)
		for _, want := range []string{"Package: " + name, "Version: 1.0.0", "Architecture: amd64", " conffiles", " postinst", " prerm", " postrm"} {
			if !strings.Contains(info, want) {
				t.Errorf("dpkg-deb -I %s: no %q in\n%s", filepath.Base(deb), want, info)
			}
		}
		list := mustTool(t, nil, "dpkg-deb", "-c", deb)
		stamp := b.Epoch.Local().Format("2006-01-02 15:04")
		for _, w := range wantFiles[name] {
			perm, path := fs.FileMode(w.mode.Perm()).String(), "."+w.path
			if w.mode.IsDir() {
				perm, path = "d"+perm[1:], path+"/"
			}
			if !containsLine(list, perm+" root/root", stamp, path) {
				t.Errorf("dpkg-deb -c %s: no %s root/root %s %s in\n%s", filepath.Base(deb), perm, stamp, path, list)
			}
		}
		t.Logf("dpkg-deb -c %s:\n%s", filepath.Base(deb), list)

		rpm := find(name, "rpm").in(b)
		files := strings.Fields(mustTool(t, nil, "rpm", "-qpl", rpm))
		var want []string
		for _, w := range wantFiles[name] {
			want = append(want, w.path)
		}
		slices.Sort(files)
		slices.Sort(want)
		if !slices.Equal(files, want) {
			t.Errorf("rpm -qpl %s: %v, want %v", filepath.Base(rpm), files, want)
		}
		scripts := mustTool(t, nil, "rpm", "-qp", "--scripts", rpm)
		for _, s := range []string{"postinstall", "preuninstall", "postuninstall"} {
			if !strings.Contains(scripts, s+" scriptlet (using /bin/sh):\n#!/bin/sh\n") {
				t.Errorf("rpm -qp --scripts %s: no %s scriptlet", filepath.Base(rpm), s)
			}
		}
		if strings.Contains(scripts, "preinstall scriptlet") {
			t.Errorf("rpm -qp --scripts %s: a preinstall scriptlet", filepath.Base(rpm))
		}
		attrs := mustTool(t, nil, "rpm", "-qp", "--queryformat", "[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEMTIMES} %{FILEFLAGS:fflags}\n]", rpm)
		for _, w := range wantFiles[name] {
			perm := w.mode.Perm().String()
			if w.mode.IsDir() {
				perm = "d" + perm[1:]
			}
			flags := ""
			if w.conf {
				flags = "cn" // %config(noreplace)
			}
			line := fmt.Sprintf("%s %s root:root %d %s", w.path, perm, b.Epoch.Unix(), flags)
			if !containsLine(attrs, line) {
				t.Errorf("rpm -qp %s: no line %q in\n%s", filepath.Base(rpm), line, attrs)
			}
		}
		if out := mustTool(t, nil, "rpm", "-K", "--nosignature", rpm); !strings.Contains(out, "digests OK") {
			t.Errorf("rpm -K %s: %s", filepath.Base(rpm), out)
		}
		t.Logf("rpm -qpl %s: %v", filepath.Base(rpm), files)
	}
}

// The paths the packages make besides their files.
const (
	agentState     = "/var/lib/sonde-agent"
	agentPublic    = "/var/lib/sonde-agent-public"
	agentConf      = "/etc/sonde-agent"
	collectorData  = "/var/lib/sonde-collector"
	collectorConf  = "/etc/sonde-collector"
	agentUnit      = "/usr/lib/systemd/system/sonde-agent.service"
	collectorUnit  = "/usr/lib/systemd/system/sonde-collector.service"
	noSystemdAgent = "sonde-agent: systemd is not running here; start the agent with: /usr/bin/sonde-agent run --state /var/lib/sonde-agent --log-format json"
)

func TestInstallEnrollUpgradeRemovePurge(t *testing.T) {
	needTools(t, "dpkg", "dpkg-deb", "dpkg-query", "getent", "userdel")
	if os.Geteuid() != 0 {
		t.Fatal("installing packages needs root: run make test-packages as root")
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Fatal("systemd runs this machine: this test installs the packages and runs the units' ExecStart itself; run it in a container or VM without systemd as PID 1, as CI does")
	}
	v1 := realRelease(t, "1.0.0", nil)
	agentDeb, collectorDeb := find(release.Agent, "deb").in(v1), find(release.Collector, "deb").in(v1)

	// Leftovers of an interrupted run go first; whatever happens, the
	// packages are purged at the end, the account removed if this test
	// made it, and the UDP buffer ceilings put back.
	for _, name := range []string{release.Agent, release.Collector} {
		if installed(t, name) != "" {
			mustTool(t, nil, "dpkg", "--purge", name)
		}
	}
	_, err := user.Lookup("sonde")
	hadAccount := err == nil
	var ceilings [][]byte
	for _, k := range []string{"rmem_max", "wmem_max"} {
		b, _ := os.ReadFile("/proc/sys/net/core/" + k)
		ceilings = append(ceilings, b)
	}
	t.Cleanup(func() {
		for _, name := range []string{release.Agent, release.Collector} {
			if installed(t, name) != "" {
				if out, err := tool(t, nil, "dpkg", "--purge", name); err != nil {
					t.Errorf("cleaning up: %v\n%s", err, out)
				}
			}
		}
		if !hadAccount {
			tool(t, nil, "userdel", "sonde")
		}
		for i, k := range []string{"rmem_max", "wmem_max"} {
			if len(ceilings[i]) > 0 {
				os.WriteFile("/proc/sys/net/core/"+k, ceilings[i], 0o644)
			}
		}
	})
	agentPaths, collectorPaths := debPaths(t, agentDeb), debPaths(t, collectorDeb)
	before := existing(append(append([]string{agentState, agentPublic, agentConf, collectorData, collectorConf}, agentPaths...), collectorPaths...))
	for _, p := range []string{agentState, agentPublic, agentConf, collectorData, collectorConf} {
		if before[p] {
			t.Fatalf("%s is here before the install: remove it (a leftover?)", p)
		}
	}

	// The collector, from its package, run as its unit says.
	out := mustTool(t, nil, "dpkg", "-i", collectorDeb)
	t.Logf("dpkg -i %s:\n%s", filepath.Base(collectorDeb), out)
	if !strings.Contains(out, "sonde-collector: systemd is not running here; start the collector with: runuser -u sonde -- /usr/bin/sonde-collector serve --data /var/lib/sonde-collector\n") {
		t.Errorf("dpkg -i of the collector does not say how to start it without systemd")
	}
	account, err := user.Lookup("sonde")
	if err != nil {
		t.Fatalf("no account sonde after the collector's install: %v", err)
	}
	uid, _ := strconv.Atoi(account.Uid)
	gid, _ := strconv.Atoi(account.Gid)
	checkMode(t, collectorData, fs.ModeDir|0o700, uid)
	checkMode(t, collectorConf+"/collector.env", 0o600, 0)
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_max"); err == nil {
		t.Logf("net.core.rmem_max after the install: %s", bytes.TrimSpace(b))
	}
	sonde := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	quic, httpPort := freePort(t, "udp"), freePort(t, "tcp")
	collector := startUnit(t, collectorUnit, map[string]string{
		"SONDE_COLLECTOR_FLAGS": fmt.Sprintf("--quic 127.0.0.1:%d --http 127.0.0.1:%d", quic, httpPort),
	}, sonde)
	api := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	waitFor(t, "the collector to be ready", 60*time.Second, func() bool {
		resp, err := http.Get(api + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	asSonde := func(args ...string) []byte {
		cmd := exec.Command("/usr/bin/sonde-collector", args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: sonde}
		cmd.Dir = "/"
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sonde-collector %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	var token struct {
		Token string `json:"token"`
		CAPin string `json:"ca_pin"`
	}
	if err := json.Unmarshal(asSonde("token", "create", "--data", collectorData, "--json"), &token); err != nil {
		t.Fatal(err)
	}
	var key struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(asSonde("apikey", "create", "pkgtest", "--role", "l2", "--data", collectorData, "--json"), &key); err != nil {
		t.Fatal(err)
	}
	cli := []string{"SONDE_URL=" + api, "SONDE_TOKEN=" + key.Key}

	// The agent, installed with enrollment settings in dpkg's environment.
	enroll := []string{"SONDE_ENROLL_COLLECTOR=127.0.0.1:" + strconv.Itoa(quic), "SONDE_ENROLL_TOKEN=" + token.Token, "SONDE_ENROLL_CA_PIN=" + token.CAPin}
	out = mustTool(t, enroll, "dpkg", "-i", agentDeb)
	t.Logf("SONDE_ENROLL_*=... dpkg -i %s:\n%s", filepath.Base(agentDeb), out)
	if !strings.Contains(out, noSystemdAgent+"\n") || !strings.Contains(out, "sonde-agent: enrollment settings written to /etc/sonde-agent/enroll.env") {
		t.Errorf("dpkg -i of the agent does not say that it left the settings and how to start it")
	}
	checkMode(t, agentConf+"/enroll.env", 0o600, 0)
	checkMode(t, agentState, fs.ModeDir|0o700, 0)
	checkMode(t, agentPublic, fs.ModeDir|0o755, 0)
	if raw, _ := os.ReadFile(agentConf + "/enroll.env"); !bytes.Contains(raw, []byte("\n"+enroll[1]+"\n")) {
		t.Errorf("enroll.env:\n%s", raw)
	}

	// systemd-analyze accepts both installed units (their programs are
	// in place now).
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Error("systemd-analyze is not installed: the units are not verified")
	} else {
		// It loads what the units pull in too (multi-user.target and what
		// other packages hang on it): only lines about ours count.
		out, err := tool(t, nil, "systemd-analyze", "verify", agentUnit, collectorUnit)
		var ours, others []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			switch {
			case line == "":
			case strings.Contains(line, "sonde-"):
				ours = append(ours, line)
			default:
				others = append(others, line)
			}
		}
		if err != nil || len(ours) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, strings.Join(ours, "\n"))
		}
		if len(others) > 0 {
			t.Logf("systemd-analyze verify, about other packages' units:\n%s", strings.Join(others, "\n"))
		}
		for _, u := range []string{agentUnit, collectorUnit} {
			sec, _ := tool(t, nil, "systemd-analyze", "security", "--offline=yes", u)
			t.Logf("systemd-analyze security --offline=yes %s: %s", filepath.Base(u), lastLine(sec))
		}
	}

	// The unit's command enrolls with the file, deletes it, connects and
	// answers a snapshot.
	agent := startUnit(t, agentUnit, nil, nil)
	waitFor(t, "the agent to enroll and delete enroll.env", 90*time.Second, func() bool {
		_, err := os.Stat(agentConf + "/enroll.env")
		return errors.Is(err, fs.ErrNotExist)
	})
	id := agentID(t)
	waitOnline(t, cli, id, "1.0.0")
	snap := mustTool(t, cli, v1.Bin(release.CLI, amd64), "snapshot", id, "--json", "--timeout", "60s")
	var s struct {
		ID      int64  `json:"id"`
		AgentID string `json:"agent_id"`
	}
	if err := json.Unmarshal([]byte(snap), &s); err != nil || s.ID <= 0 {
		t.Fatalf("sonde snapshot %s: %v\n%.500s", id, err, snap)
	}
	t.Logf("sonde snapshot %s: stored as snapshot %d", id, s.ID)
	agent.stop(t)

	// An upgrade keeps the identity, the spool, the receipts and a changed
	// conffile, and ignores enrollment settings once enrolled.
	conf := agentConf + "/agent.yaml"
	mine := []byte("# changed by the administrator\n")
	orig, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, append(orig, mine...), 0o644); err != nil {
		t.Fatal(err)
	}
	v2 := realRelease(t, "1.0.1", v1)
	out = mustTool(t, enroll, "dpkg", "-i", find(release.Agent, "deb").in(v2))
	t.Logf("dpkg -i (upgrade) %s:\n%s", filepath.Base(find(release.Agent, "deb").in(v2)), out)
	if st := installed(t, release.Agent); st != "install ok installed 1.0.1" {
		t.Errorf("after the upgrade dpkg says %q", st)
	}
	if !strings.Contains(out, "sonde-agent: already enrolled") {
		t.Errorf("the upgrade with SONDE_ENROLL_* set does not say the agent is enrolled already")
	}
	if _, err := os.Stat(agentConf + "/enroll.env"); err == nil {
		t.Error("the upgrade left enroll.env for an enrolled agent")
	}
	if got := agentID(t); got != id {
		t.Errorf("the agent ID after the upgrade is %s, was %s", got, id)
	}
	if raw, _ := os.ReadFile(conf); !bytes.HasSuffix(raw, mine) {
		t.Errorf("the upgrade replaced the changed %s:\n%s", conf, raw)
	}
	if v := mustTool(t, nil, "/usr/bin/sonde-agent", "version"); !strings.Contains(v, "1.0.1") {
		t.Errorf("sonde-agent version after the upgrade: %s", v)
	}
	receipts, _ := os.ReadDir(agentPublic)
	t.Logf("the public folder after the upgrade: %d entries", len(receipts))
	agent = startUnit(t, agentUnit, nil, nil)
	waitOnline(t, cli, id, "1.0.1")
	agent.stop(t)

	// dpkg -r keeps the state and the configuration; --purge removes them
	// and leaves nothing of the package.
	listed := dpkgPaths(t, release.Agent)
	if !slices.Contains(listed, "/usr/bin/sonde-agent") || !slices.Contains(listed, agentUnit) {
		t.Fatalf("dpkg -L sonde-agent: %v", listed)
	}
	out = mustTool(t, nil, "dpkg", "-r", release.Agent)
	t.Logf("dpkg -r sonde-agent:\n%s", out)
	for _, p := range []string{"/usr/bin/sonde-agent", agentUnit} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("dpkg -r left %s", p)
		}
	}
	for _, p := range []string{agentState + "/agent.json", agentState + "/ca.pem", agentPublic, conf} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("dpkg -r removed %s: %v", p, err)
		}
	}
	if st := installed(t, release.Agent); !strings.HasPrefix(st, "deinstall ok config-files") {
		t.Errorf("after dpkg -r dpkg says %q", st)
	}
	out = mustTool(t, nil, "dpkg", "--purge", release.Agent)
	t.Logf("dpkg --purge sonde-agent:\n%s", out)
	for _, p := range append(listed, agentState, agentPublic, agentConf) {
		if _, err := os.Lstat(p); err == nil && !before[p] {
			t.Errorf("dpkg --purge left %s", p)
		}
	}
	if st := installed(t, release.Agent); st != "" && !strings.HasPrefix(st, "unknown ok not-installed") {
		t.Errorf("after dpkg --purge dpkg says %q", st)
	}

	// The collector likewise; its account stays (README.md).
	collector.stop(t)
	listed = dpkgPaths(t, release.Collector)
	mustTool(t, nil, "dpkg", "-r", release.Collector)
	if _, err := os.Stat(collectorData + "/sonde.db"); err != nil {
		t.Errorf("dpkg -r removed the collector's database: %v", err)
	}
	mustTool(t, nil, "dpkg", "--purge", release.Collector)
	for _, p := range append(listed, collectorData, collectorConf) {
		if _, err := os.Lstat(p); err == nil && !before[p] {
			t.Errorf("dpkg --purge left %s", p)
		}
	}
	if _, err := user.Lookup("sonde"); err != nil {
		t.Errorf("the purge removed the account sonde: %v", err)
	}
}
