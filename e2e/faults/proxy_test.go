//go:build faults

package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/status"
	"github.com/sondehq/sonde/e2e/harness"
	"github.com/sondehq/sonde/e2e/netns"
)

// TestProxyOnly: the agent's network reaches the collector only through
// Debian's tinyproxy, which allows CONNECT to the collector's port only,
// with Basic authentication; UDP and direct TCP to the collector are
// dropped. Set in agent.yaml (proxy, proxy_password_file), the agent
// enrolls and works through it; with a wrong password, enrollment fails
// and the running agent's status say so in words the proxy's owner acts on.
//
//	agent A 10.203.1.2 -- 10.203.1.1 proxy P 10.203.2.1 -- 10.203.2.2 collector C
//
// P does not forward: only tinyproxy joins the two links.
func TestProxyOnly(t *testing.T) {
	nsA, nsP, nsC := netns.New(t, "px-a"), netns.New(t, "px-p"), netns.New(t, "px-c")
	netns.Veth(t, nsA, "va", "10.203.1.2/24", nsP, "pa", "10.203.1.1/24")
	netns.Veth(t, nsP, "pc", "10.203.2.1/24", nsC, "vc", "10.203.2.2/24")
	nsA.Run(t, "ip", "route", "add", "default", "via", "10.203.1.1")
	nsC.Run(t, "ip", "route", "add", "default", "via", "10.203.2.1")
	const addr, proxyAddr = "10.203.2.2:7443", "10.203.1.1:8888"
	startTinyproxy(t, nsP, proxyAddr, 7443, "sonde", "s3cret")

	dir := t.TempDir()
	password := filepath.Join(dir, "proxy-password")
	writePassword := func(pw string) {
		if err := os.WriteFile(password, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := newSite(t, nsA, nsC, addr, []string{"10.203.2.2"},
		"proxy: http://sonde@"+proxyAddr, "proxy_password_file: "+password)
	// Only the proxy: no UDP at all, no TCP to the collector but through it.
	if err := nsA.Drop("meta l4proto udp", "ip daddr 10.203.2.2"); err != nil {
		t.Fatal(err)
	}

	wrong := regexp.MustCompile(`the proxy at ` + regexp.QuoteMeta(proxyAddr) +
		` refused our credentials \((407 Proxy Authentication Required|401 Unauthorized); it asks for Basic\): check the user and password of the proxy URL`)
	writePassword("wrong")
	if out, _, err := s.enroll(addr); err == nil || !wrong.MatchString(err.Error()) {
		t.Fatalf("enrolling with a wrong proxy password: %v\n%s\nwant it to match %s", err, out, wrong)
	} else {
		t.Logf("enrolling with a wrong proxy password: %s", err.Error()[strings.Index(err.Error(), "sonde-agent: "):])
	}

	writePassword("s3cret")
	out, took, err := s.enroll(addr)
	if err != nil {
		t.Fatalf("enrolling through the proxy: %v", err)
	}
	t.Logf("enrolled through the proxy in %s: %s", took.Round(time.Millisecond), strings.TrimSpace(out))
	began := s.start()
	s.waitStatus("the agent to connect through the proxy", 10*time.Second, connectedOver("TCP"))
	t.Logf("connected through the proxy %s after starting", time.Since(began).Round(time.Millisecond))
	if !strings.Contains(s.agent.Output(), `via=http://sonde:xxxxx@`+proxyAddr) || strings.Contains(s.agent.Output(), "s3cret") {
		t.Errorf("the agent's log does not name the proxy without its password:\n%s", s.agent.Output())
	}
	snap := s.sonde("snapshot", s.agentID, "--probes", "memory", "--json")
	if !strings.Contains(snap, `"memory"`) {
		t.Fatalf("sonde snapshot printed %.300q", snap)
	}
	s.stop()

	writePassword("changed")
	s.start()
	s.waitStatus("the agent to report the refused credentials", 15*time.Second, func(st *status.Status) bool {
		return !st.Connected && wrong.MatchString(st.Error)
	})
	says := s.agentSays("status")
	if !wrong.MatchString(says) {
		t.Errorf("sonde-agent status says:\n%s", says)
	}
	t.Logf("with a wrong password, sonde-agent status says: %s", strings.TrimSpace(says))
	s.stop()
}

// startTinyproxy runs Debian's tinyproxy in ns, listening on addr and
// allowing CONNECT to connectPort only, for user:pass by Basic
// authentication. A missing tinyproxy fails the test (scripts/deps.sh
// installs it).
func startTinyproxy(t *testing.T, ns *netns.NS, addr string, connectPort int, user, pass string) {
	t.Helper()
	if _, err := exec.LookPath("tinyproxy"); err != nil {
		t.Fatalf("tinyproxy is needed for this test (apt-get install tinyproxy, or scripts/deps.sh test): %v", err)
	}
	host, port, _ := strings.Cut(addr, ":")
	conf := filepath.Join(t.TempDir(), "tinyproxy.conf")
	text := fmt.Sprintf("Port %s\nListen %s\nTimeout 60\nMaxClients 16\nLogLevel Info\nAllow 10.203.1.0/24\n"+
		"ConnectPort %d\nBasicAuth %s %s\nDisableViaHeader Yes\n", port, host, connectPort, user, pass)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd := ns.Command("tinyproxy", "-d", "-c", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting tinyproxy: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("tinyproxy's log:\n%s", out.String())
		}
	})
	harness.WaitFor(t, "tinyproxy to listen", 5*time.Second, func() bool {
		ss, _ := ns.Output("ss", "-Htln", "src", addr)
		return strings.Contains(ss, "LISTEN")
	})
}
