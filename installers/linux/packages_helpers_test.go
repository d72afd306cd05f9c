//go:build packages

package linux

// What the packages tests use: running tools and the units' programs,
// waiting, and reading what dpkg and the agent left.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sondehq/sonde/installers/release"
)

// artifact returns the path of package name's .deb or .rpm in b.
func (a artifact) in(b *release.Build) string {
	return filepath.Join(b.Out, a.format.artifact(a.pkg.name, b.Version, a.format.arch[a.target.Arch]))
}

func find(name, format string) artifact {
	a := artifact{target: amd64}
	for _, p := range packages {
		if p.name == name {
			a.pkg = p
		}
	}
	for _, f := range formats {
		if f.name == format {
			a.format = f
		}
	}
	return a
}

// tool runs a program to completion and returns its output, stdout and
// stderr together.
func tool(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func mustTool(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := tool(t, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, name := range tools {
		if _, err := exec.LookPath(name); err != nil {
			t.Fatalf("%s is not installed: make test-packages installs it (scripts/deps.sh packages)", name)
		}
	}
}

// containsLine reports whether a line of text holds every one of parts.
func containsLine(text string, parts ...string) bool {
	for line := range strings.Lines(text) {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			return true
		}
	}
	return false
}

// proc is a running program whose output is kept.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startUnit runs a unit's ExecStart line as systemd would (its $VARS
// split into words from env), as the account cred (nil: root).
func startUnit(t *testing.T, unitPath string, env map[string]string, cred *syscall.Credential) *proc {
	t.Helper()
	text, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	words, err := execStart(string(text))
	if err != nil {
		t.Fatalf("%s: %v", unitPath, err)
	}
	var argv []string
	for _, w := range words {
		if name, ok := strings.CutPrefix(w, "$"); ok {
			argv = append(argv, strings.Fields(env[name])...)
		} else {
			argv = append(argv, w)
		}
	}
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Dir = "/"
	p.cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Logf("started %s", strings.Join(argv, " "))
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(argv[0]), p.output())
		}
	})
	return p
}

// stop ends the program with SIGTERM, as systemd does, then SIGKILL.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Errorf("%s did not stop on SIGTERM within 20 s", p.cmd.Path)
		p.cmd.Process.Kill()
		<-p.done
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dpkgPaths returns what dpkg -L lists for an installed package.
func dpkgPaths(t *testing.T, name string) []string {
	t.Helper()
	var paths []string
	for line := range strings.Lines(mustTool(t, nil, "dpkg", "-L", name)) {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "/") && line != "/." {
			paths = append(paths, line)
		}
	}
	return paths
}

// existing returns which of paths exist now.
func existing(paths []string) map[string]bool {
	m := map[string]bool{}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			m[p] = true
		}
	}
	return m
}

// debPaths returns the paths a .deb installs, as dpkg -L will list them.
func debPaths(t *testing.T, deb string) []string {
	t.Helper()
	var paths []string
	for _, f := range strings.Fields(mustTool(t, nil, "sh", "-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -t", "sh", deb)) {
		if p := strings.TrimSuffix(strings.TrimPrefix(f, "."), "/"); p != "" {
			paths = append(paths, p)
		}
	}
	return paths
}

// checkMode checks a path's type, mode and owner.
func checkMode(t *testing.T, path string, mode fs.FileMode, uid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&(fs.ModeType|fs.ModePerm) != mode || int(st.Uid) != uid {
		t.Errorf("%s: %s owned by %d, want %s owned by %d", path, fi.Mode(), st.Uid, mode, uid)
	}
}

func agentID(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("/var/lib/sonde-agent/agent.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AgentID string `json:"agent_id"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.AgentID == "" {
		t.Fatalf("agent.json: %v %q", err, raw)
	}
	return c.AgentID
}

// installed reports dpkg's status of a package ("" when it knows none).
func installed(t *testing.T, name string) string {
	out, err := tool(t, nil, "dpkg-query", "-W", "-f", "${Status} ${Version}", name)
	if err != nil {
		return ""
	}
	return out
}

// listedAgent is an agent as sonde agents --json lists it.
type listedAgent struct {
	ID           string `json:"id"`
	Online       bool   `json:"online"`
	AgentVersion string `json:"agent_version"`
}

// waitOnline waits until the collector lists agent id online at version.
func waitOnline(t *testing.T, cli []string, id, version string) {
	t.Helper()
	sonde := releases.m["1.0.0"].Bin(release.CLI, amd64)
	waitFor(t, "agent "+id+" online at "+version, 90*time.Second, func() bool {
		out, err := tool(t, cli, sonde, "agents", "--json")
		var agents []listedAgent
		if err != nil || json.Unmarshal([]byte(out), &agents) != nil {
			return false
		}
		return slices.Contains(agents, listedAgent{ID: id, Online: true, AgentVersion: version})
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
