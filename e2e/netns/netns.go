//go:build linux

// Package netns builds small, throw-away networks for the fault tests out
// of Linux network namespaces: namespaces joined by veth pairs, packet loss
// and partitions made with nftables, and a UDP relay with an adjustable
// delay (the kernel the tests run on has no netem).
//
// Everything it makes lives inside namespaces it created itself and is
// removed in the test's cleanup; it never touches the addresses, routes or
// firewall of the namespace the test runs in. It needs root, iproute2 and
// nftables.
package netns

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NS is a network namespace made by New.
type NS struct {
	Name string // as known to `ip netns`
}

var counter atomic.Int64

// New creates a network namespace named after label, this process's ID and
// a counter, so that parallel test runs do not collide, and brings up its
// loopback interface. The test's cleanup kills whatever still runs inside
// it and deletes it.
func New(t testing.TB, label string) *NS {
	t.Helper()
	ns := &NS{Name: fmt.Sprintf("sonde-%s-%d-%d", label, os.Getpid(), counter.Add(1))}
	if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns.Name, err, out)
	}
	t.Cleanup(func() {
		if err := ns.remove(); err != nil {
			t.Errorf("removing namespace %s: %v", ns.Name, err)
		}
	})
	if _, err := ns.Output("ip", "link", "set", "lo", "up"); err != nil {
		t.Fatal(err)
	}
	return ns
}

// remove kills the processes left in the namespace and deletes it.
func (ns *NS) remove() error {
	for range 50 {
		out, err := exec.Command("ip", "netns", "pids", ns.Name).Output()
		if err != nil {
			break
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del: %v: %s", err, out)
	}
	return nil
}

// Command returns a command that runs name with args inside the namespace.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Output runs name with args inside the namespace and returns its standard
// output; the error carries the standard error.
func (ns *NS) Output(name string, args ...string) (string, error) {
	cmd := ns.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("in %s: %s %s: %v: %s", ns.Name, name, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Run is Output that fails the test on error.
func (ns *NS) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := ns.Output(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Veth joins namespaces a and b with a veth pair: interface aIf in a with
// address aAddr and bIf in b with bAddr, both in CIDR form
// ("10.201.1.2/24"), both up. The pair is made inside a, so no interface
// ever appears in the test's own namespace, and goes away with either
// namespace.
func Veth(t testing.TB, a *NS, aIf, aAddr string, b *NS, bIf, bAddr string) {
	t.Helper()
	a.Run(t, "ip", "link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b.Name)
	a.Run(t, "ip", "addr", "add", aAddr, "dev", aIf)
	b.Run(t, "ip", "addr", "add", bAddr, "dev", bIf)
	a.Run(t, "ip", "link", "set", aIf, "up")
	b.Run(t, "ip", "link", "set", bIf, "up")
}

// Do runs fn on an OS thread switched into the namespace, and returns its
// error. Sockets fn creates belong to the namespace for their whole life,
// wherever they are used afterwards; goroutines fn starts do not run in it.
// The thread is switched back afterwards; if that fails it stays locked,
// so the Go runtime ends it instead of reusing it.
func Do(ns *NS, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread's own namespace: with the thread locked, this is the
		// one to come back to.
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open(filepath.Join("/run/netns", ns.Name))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering namespace %s: %w", ns.Name, err)
			return
		}
		err = fn()
		if serr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); serr != nil {
			// Leave the thread locked: the goroutine ends, and the runtime
			// ends the thread with it rather than run others in the wrong
			// namespace.
			errc <- fmt.Errorf("leaving namespace %s: %v (fn: %v)", ns.Name, serr, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// The fault rules live in a table of their own, so Heal removes them and
// nothing else.
const table = "sonde_faults"

// Loss drops percent of the UDP datagrams entering and leaving the
// namespace through any interface but loopback, at random, each direction
// on its own. It replaces any earlier fault.
//
// Like Partition, it drops in the netdev ingress and egress hooks, as the
// wire would: a packet dropped in the ip output path instead is reported to
// the sending socket as EPERM, which no real network does (and which makes
// quic-go close the connection at once).
func (ns *NS) Loss(percent int) error {
	switch {
	case percent < 0 || percent > 100:
		return fmt.Errorf("loss of %d%%", percent)
	case percent == 0:
		return ns.Heal()
	case percent == 100:
		return ns.faults("meta l4proto udp drop")
	}
	return ns.faults(fmt.Sprintf("meta l4proto udp numgen random mod 100 < %d drop", percent))
}

// Partition drops every packet entering or leaving the namespace through
// any interface but loopback, silently. It replaces any earlier fault.
func (ns *NS) Partition() error {
	return ns.faults("drop")
}

// Drop drops, silently, the packets entering or leaving the namespace
// through any interface but loopback that match any of rules (nftables
// expressions: "meta l4proto udp", "ip daddr 10.0.0.1"). It replaces any
// earlier fault.
func (ns *NS) Drop(rules ...string) error {
	if len(rules) == 0 {
		return ns.Heal()
	}
	return ns.faults(strings.Join(rules, " drop\n\t\t") + " drop")
}

// faults replaces the fault table with one that applies rule on the way in
// and out of each interface of the namespace but loopback.
func (ns *NS) faults(rule string) error {
	ifaces, err := ns.interfaces()
	if err != nil {
		return err
	}
	if err := ns.Heal(); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table netdev %s {\n", table)
	for i, name := range ifaces {
		for _, hook := range []string{"ingress", "egress"} {
			fmt.Fprintf(&b, "\tchain %s%d {\n\t\ttype filter hook %s device %q priority 0; policy accept;\n\t\t%s\n\t}\n",
				hook, i, hook, name, rule)
		}
	}
	b.WriteString("}\n")
	cmd := ns.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("in %s: nft: %v: %s\n%s", ns.Name, err, out, b.String())
	}
	return nil
}

// interfaces lists the namespace's interfaces but loopback.
func (ns *NS) interfaces() ([]string, error) {
	out, err := ns.Output("ip", "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		// "2: va@if3: <BROADCAST,...> ..."
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if name != "lo" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("namespace %s has no interface but lo", ns.Name)
	}
	return names, nil
}

// Heal removes the rules of Loss or Partition; without any it does nothing.
func (ns *NS) Heal() error {
	cmd := ns.Command("nft", "-f", "-")
	// Declaring the table first makes deleting it succeed when it is not
	// there.
	cmd.Stdin = strings.NewReader(fmt.Sprintf("table netdev %[1]s\ndelete table netdev %[1]s\n", table))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("in %s: nft: %v: %s", ns.Name, err, out)
	}
	return nil
}
