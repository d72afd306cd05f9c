// Package harness runs the project's real binaries for the long fault and
// soak tests: it builds them once, starts them (in a network namespace when
// asked), kills them, and reads what the collector stored.
package harness

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	_ "modernc.org/sqlite" // the collector's own driver, to read its database
)

// Build compiles sonde-agent, sonde-collector and sonde into dir.
func Build(dir string) error {
	return BuildWith(dir, nil, "./cmd/sonde-agent", "./cmd/sonde-collector", "./cmd/sonde")
}

// BuildWith compiles pkgs (paths from the repository's root, "./cmd/...")
// into dir with more `go build` flags: the benchmarks build the agent as
// `make build` does, to measure what users run.
func BuildWith(dir string, flags []string, pkgs ...string) error {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	args := append(append([]string{"build"}, flags...), "-o", dir+string(filepath.Separator))
	cmd := exec.Command("go", append(args, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the binaries: %v\n%s", err, out)
	}
	return nil
}

// Main is the TestMain of a suite that runs the binaries: it builds them
// into a temporary folder, sets *bin to it, runs the tests, fails them
// when they leave goroutines behind (goleak) and removes the folder.
func Main(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "sonde-bin")
	if err != nil {
		panic(err)
	}
	if err := Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// Proc is a running program whose output is kept for the failure report.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // how it ended; set before done is closed
	mu   sync.Mutex
	out  bytes.Buffer
}

func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.out.Write(b)
	if err != nil {
		return n, fmt.Errorf("keeping the output of %s: %w", p.Name, err)
	}
	return n, nil
}

// Output is what the program printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Pid is the program's process ID (that of `ip netns exec`, which execs it).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Start runs path with args, inside network namespace netns unless it is
// empty. The test's cleanup stops it and, if the test failed, logs its
// output.
func Start(t testing.TB, netns, path string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: filepath.Base(path), done: make(chan struct{})}
	if netns != "" {
		args = append([]string{"netns", "exec", netns, path}, args...)
		path = "ip"
	}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", p.Name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("%s output:\n%s", p.Name, tail(p.Output(), 200))
		}
	})
	return p
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM, and SIGKILL if the program is still there after
// grace. It reports whether the program stopped on its own.
func (p *Proc) Stop(grace time.Duration) bool {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
		p.Kill()
		return false
	}
}

// Terminate sends SIGTERM and returns at once: see Wait.
func (p *Proc) Terminate() { p.cmd.Process.Signal(syscall.SIGTERM) }

// Wait waits, up to patience, for the program to end and returns how it
// ended: nil for exit status 0. It fails the test if the program is still
// running then.
func (p *Proc) Wait(t testing.TB, patience time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(patience):
		t.Fatalf("%s still running after %s", p.Name, patience)
		return nil
	}
}

// Exited reports whether the program has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = append([]string{fmt.Sprintf("[%d earlier lines]", len(all)-lines)}, all[len(all)-lines:]...)
	}
	return strings.Join(all, "\n")
}

// Collector is a sonde-collector serving from Data.
type Collector struct {
	Bin   string   // folder holding the binaries
	Data  string   // data dir
	QUIC  string   // UDP address for agents
	HTTP  string   // TCP address of the API
	Netns string   // network namespace to run in; "" for this one
	Args  []string // extra serve flags
	Proc  *Proc
}

// Start runs the collector and waits until it answers /readyz. An HTTP
// address in another namespace cannot be reached from here: then it waits
// for the log line that says the collector is serving.
func (c *Collector) Start(t testing.TB) {
	t.Helper()
	args := append([]string{"serve", "--data", c.Data, "--quic", c.QUIC, "--http", c.HTTP}, c.Args...)
	c.Proc = Start(t, c.Netns, filepath.Join(c.Bin, "sonde-collector"), args...)
	WaitFor(t, "the collector to be ready", 30*time.Second, func() bool {
		if c.Proc.Exited() {
			t.Fatalf("the collector exited:\n%s", tail(c.Proc.Output(), 50))
		}
		if c.Netns != "" {
			return strings.Contains(c.Proc.Output(), "serving")
		}
		resp, err := http.Get("http://" + c.HTTP + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Token makes an enrollment token for uses agents and returns it with the
// CA pin.
func (c *Collector) Token(t testing.TB, uses int) (token, pin string) {
	t.Helper()
	out := Run(t, filepath.Join(c.Bin, "sonde-collector"), "token", "create", "--data", c.Data, "--json",
		"--uses", fmt.Sprint(uses), "--ttl", "24h")
	var tok struct {
		Token string `json:"token"`
		Pin   string `json:"ca_pin"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatalf("token create printed %q: %v", out, err)
	}
	return tok.Token, tok.Pin
}

// DB is the path of the collector's database.
func (c *Collector) DB() string { return filepath.Join(c.Data, "sonde.db") }

// Run runs a program to completion and returns its standard output.
func Run(t testing.TB, path string, args ...string) string {
	t.Helper()
	cmd := exec.Command(path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", filepath.Base(path), strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// WaitFor polls cond every 50 ms until it holds, failing the test after
// patience.
func WaitFor(t testing.TB, what string, patience time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", patience, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreeAddr returns a loopback address free for both TCP and UDP right now,
// and never one it returned before in this process: the kernel may hand
// the port just closed out again, and a test that asks for two addresses
// (a collector's QUIC port, whose TCP fallback listens on it too, and its
// HTTP port) got the same one twice ("bind: address already in use").
func FreeAddr(t testing.TB) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if handedOut.addrs[addr] {
			continue
		}
		if u, err := net.ListenPacket("udp", addr); err == nil {
			u.Close()
			handedOut.addrs[addr] = true
			return addr
		}
	}
	t.Fatal("no free loopback port")
	return ""
}

// handedOut is what FreeAddr returned.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// Key names one stored snapshot.
type Key struct {
	Agent     string
	BootEpoch int64
	Seq       uint64
}

// Stored is what a collector's database holds, read straight from the file.
type Stored struct {
	Rows     int         // snapshot rows
	Keys     map[Key]int // rows per (agent, boot epoch, seq)
	Trigger  map[Key]string
	Captured map[Key]time.Time // capture time as stored
}

// ReadStore reads every snapshot key from the database at path and runs
// SQLite's integrity check on it. The collector may be running.
func ReadStore(ctx context.Context, path string) (*Stored, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil {
		return nil, fmt.Errorf("integrity_check: %w", err)
	}
	if check != "ok" {
		return nil, fmt.Errorf("integrity_check: %s", check)
	}
	rows, err := db.QueryContext(ctx, "SELECT agent_id, boot_epoch, seq, trigger_name, captured_at FROM snapshots")
	if err != nil {
		return nil, fmt.Errorf("reading snapshots of %s: %w", path, err)
	}
	defer rows.Close()
	s := &Stored{Keys: map[Key]int{}, Trigger: map[Key]string{}, Captured: map[Key]time.Time{}}
	for rows.Next() {
		var k Key
		var seq, captured int64
		var trigger string
		if err := rows.Scan(&k.Agent, &k.BootEpoch, &seq, &trigger, &captured); err != nil {
			return nil, fmt.Errorf("reading snapshots of %s: %w", path, err)
		}
		k.Seq = uint64(seq)
		s.Rows++
		s.Keys[k]++
		s.Captured[k] = time.Unix(0, captured)
		if trigger != "" {
			s.Trigger[k] = trigger
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading snapshots of %s: %w", path, err)
	}
	return s, nil
}

// Duplicates lists the keys stored more than once.
func (s *Stored) Duplicates() []Key {
	var out []Key
	for k, n := range s.Keys {
		if n > 1 {
			out = append(out, k)
		}
	}
	return out
}

// Count is the number of snapshots stored for an agent.
func (s *Stored) Count(agent string) int {
	n := 0
	for k, rows := range s.Keys {
		if k.Agent == agent {
			n += rows
		}
	}
	return n
}

// FirstEpoch is the earliest boot epoch stored for an agent, or 0.
func (s *Stored) FirstEpoch(agent string) int64 {
	var first int64
	for k := range s.Keys {
		if k.Agent == agent && (first == 0 || k.BootEpoch < first) {
			first = k.BootEpoch
		}
	}
	return first
}
