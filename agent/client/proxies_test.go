package client

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/proxy"
)

// TestDialTCPNamesInterception: a server that answers the agent's TLS
// handshake with a certificate the pinned CA did not sign (a TLS-inspecting
// proxy forging one for the collector's address) is refused, nothing is
// sent to it, and the error names its issuer and says what to do.
func TestDialTCPNamesInterception(t *testing.T) {
	pinned, _ := testCA(t, true)
	_, forged := namedCA(t, "Example Inspection CA", true)
	addr, received := pinServer(t, forged)
	tc, err := tlsConfig(addr, pinned, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := dialTCP(dialCtx(t), addr, tc, nil, pinned)
	if err == nil {
		conn.CloseWithError(0, "")
		t.Fatal("connected through an intercepting server")
	}
	var in proxy.Interception
	if !errors.As(err, &in) {
		t.Fatalf("error %v is not an interception", err)
	}
	want := "a TLS-inspecting proxy (issuer: CN=Example Inspection CA) is intercepting connections to " + addr + "; exempt that host from inspection"
	if got := dialError(addr, tc, err).Error(); got != "connecting to "+addr+": "+want {
		t.Errorf("the agent says %q\nwant %q", got, "connecting to "+addr+": "+want)
	}
	if b := <-received; len(b) > 0 {
		t.Errorf("the intercepting server received %d bytes", len(b))
	}

	// Without a pinned CA to compare with (enrolling, where the pin check
	// names the issuer instead), no interception is claimed.
	_, other := testCA(t, true)
	addr, _ = pinServer(t, other)
	tc, _ = tlsConfig(addr, pinned, nil)
	if _, err := dialTCP(dialCtx(t), addr, tc, nil, nil); err == nil || errors.As(err, &in) {
		t.Errorf("without a pinned CA to compare with: %v, want a plain handshake error", err)
	}
}

// TestProxiesReadTheSystemPerNetwork: the system's proxy settings are read
// once per network, not for every dial, and again when the network
// changes.
func TestProxiesReadTheSystemPerNetwork(t *testing.T) {
	var loads atomic.Int32
	network := "office"
	px := &Proxies{
		network: func() string { return network },
		load: func(context.Context) *proxy.System {
			loads.Add(1)
			return &proxy.System{}
		},
	}
	for range 3 {
		if _, err := px.resolve(context.Background(), "collector.example:7443"); err != nil {
			t.Fatal(err)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("read the system's settings %d times on one network, want once", n)
	}
	network = "hotel"
	px.resolve(context.Background(), "collector.example:7443")
	if n := loads.Load(); n != 2 {
		t.Errorf("read the system's settings %d times after moving, want twice", n)
	}
}

// TestProxiesPrecedence: agent.yaml's proxy serves the collector; its
// no_proxy exempts it; a broken environment setting is an error that
// names it.
func TestProxiesPrecedence(t *testing.T) {
	u, _ := proxy.ParseURL("http://proxy.corp.example:3128")
	load := func(context.Context) *proxy.System { return &proxy.System{} }
	network := func() string { return "n" }
	px := &Proxies{Settings: proxy.Settings{Proxy: u}, load: load, network: network}
	if got, err := px.resolve(context.Background(), "collector.example:7443"); err != nil || got == nil || got.Host != "proxy.corp.example:3128" {
		t.Errorf("with agent.yaml's proxy: %v, %v", got, err)
	}
	px = &Proxies{Settings: proxy.Settings{Proxy: u, NoProxy: []string{".example"}}, load: load, network: network}
	if got, err := px.resolve(context.Background(), "collector.example:7443"); err != nil || got != nil {
		t.Errorf("exempt by no_proxy: %v, %v", got, err)
	}
	px = &Proxies{Settings: proxy.Settings{Getenv: func(k string) string {
		return map[string]string{"HTTPS_PROXY": "ftp://x"}[k]
	}}, load: load, network: network}
	if _, err := px.resolve(context.Background(), "collector.example:7443"); err == nil || !strings.Contains(err.Error(), "HTTPS_PROXY") {
		t.Errorf("a malformed HTTPS_PROXY: %v", err)
	}
}

func dialCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
