package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/proxy"
)

func TestLoad(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"intranet.example.com:443", "jump.corp.example:22", "10.0.0.5:3389", "[2001:db8::5]:443"}
	if !slices.Equal(c.Reachability, want) {
		t.Errorf("targets %q, want %q", c.Reachability, want)
	}
}

func TestLoadMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "agent.yaml")
	// The default file is optional: a machine without one has no targets.
	c, err := load(missing, false)
	if err != nil || len(c.Reachability) != 0 {
		t.Errorf("missing default file: %+v, %v", c, err)
	}
	// A file the user named must be there.
	if _, err := load(missing, true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing named file: %v, want not exist", err)
	}
	// A broken default file is an error that names it, not no targets.
	bad := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(bad, []byte("reachabilty: [a:1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := load(bad, false); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "reachabilty") {
		t.Errorf("broken default file: %v", err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	big := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: %v", err)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		yaml, err string
	}{
		{"", ""},
		{"# nothing set\n", ""},
		{"reachability: []\n", ""},
		{"reachability: [a.example:1, 'b_c.example.:65535', 192.0.2.1:80, '[::1]:22']\n", ""},
		{"reachabilty: [a.example:1]\n", "field reachabilty not found"},
		{"reachability: a.example:1\n", "cannot unmarshal"},
		{"reachability: [a.example]\n", "not host:port"},
		{"reachability: [a.example:0]\n", "not a number from 1 to 65535"},
		{"reachability: [a.example:65536]\n", "not a number from 1 to 65535"},
		{"reachability: [a.example:http]\n", "not a number from 1 to 65535"},
		{"reachability: [a.example:080]\n", "not a number from 1 to 65535"},
		{"reachability: [':443']\n", "no host"},
		{"reachability: ['a b:443']\n", "holds ' '"},
		{"reachability: [-a.example:443]\n", "hyphen"},
		{"reachability: [a..example:443]\n", "empty label"},
		{"reachability: [999.1.1.1:443]\n", "neither an IP address nor a host name"},
		{"reachability: ['[192.0.2.1]:443']\n", "brackets are for IPv6"},
		{"reachability: ['[fe80::1%eth0]:443']\n", "zone"},
		{"reachability: ['[::g]:443']\n", "not an IPv6 address"},
		{"reachability: [" + strings.Repeat("a", 64) + ".example:1]\n", "longer than 63"},
		{"reachability: [A.example:1, a.EXAMPLE:1]\n", "listed twice"},
		{"reachability: [a:1]\n---\nreachability: [b:1]\n", "only one YAML document"},
		{"reachability: [a:1\n", "decoding YAML"},
		{"quic_retry: 30s\n", ""},
		{"quic_retry: 24h\n", ""},
		{"quic_retry: 9s\n", "not a duration from 10s to 24h0m0s"},
		{"quic_retry: 25h\n", "not a duration from 10s to 24h0m0s"},
		{"quic_retry: often\n", "not a duration"},
		{"on_demand_cpu: 2%\n", ""},
		{"on_demand_cpu: '0.5 %'\non_demand_burst: 100ms\n", ""},
		{"on_demand_cpu: 50%\non_demand_burst: 1m\n", ""},
		{"on_demand_cpu: 0.4%\n", "out of bounds"},
		{"on_demand_cpu: 51%\n", "out of bounds"},
		{"on_demand_cpu: 2\n", "not a percentage"},
		{"on_demand_cpu: lots%\n", "not a percentage"},
		{"on_demand_burst: 99ms\n", "out of bounds"},
		{"on_demand_burst: 2m\n", "out of bounds"},
		{"on_demand_burst: soon\n", "not a duration"},
		{"memory_ceiling: 32MiB\n", ""},
		{"memory_ceiling: 4GiB\n", ""},
		{"memory_ceiling: 31MiB\n", "not a size from 32MiB to 4GiB"},
		{"memory_ceiling: 5GiB\n", "not a size"},
		{"memory_ceiling: 100MB\n", "not a size"},
		{"memory_ceiling: -1GiB\n", "not a size"},
		{"memory_ceiling: 99999999999GiB\n", "not a size"},
		{"battery_floor: 0%\n", ""},
		{"battery_floor: '100 %'\n", ""},
		{"battery_floor: 101%\n", "not a whole percentage from 0% to 100%"},
		{"battery_floor: -1%\n", "not a whole percentage"},
		{"battery_floor: 20\n", "not a whole percentage"},
		{"battery_floor: 12.5%\n", "not a whole percentage"},
		{"battery_floor: low\n", "not a whole percentage"},
	} {
		c, err := Parse([]byte(tc.yaml))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.yaml, err, tc.err)
		case err == nil && c == nil:
			t.Errorf("%q: nil config", tc.yaml)
		}
	}
}

func TestParseTooMany(t *testing.T) {
	var b strings.Builder
	b.WriteString("reachability:\n")
	for i := range MaxTargets + 1 {
		b.WriteString("  - host" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".example:443\n")
	}
	if _, err := Parse([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "at most 32") {
		t.Errorf("33 targets: %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	if p := DefaultPath(); !filepath.IsAbs(p) || filepath.Base(p) != "agent.yaml" {
		t.Errorf("default path %q", p)
	}
}

// FuzzParse checks that no input panics the parser and that what it
// accepts is within its bounds and valid.
func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "agent.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("reachability: [a:1, '[::1]:2']\n"))
	f.Add([]byte("reachability: !!binary aGVsbG8=\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("proxy: http://u@p:3128\nproxy_password_file: pw\nno_proxy: a, .b, 10.0.0.0/8\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		if len(c.Reachability) > MaxTargets {
			t.Fatalf("%d targets accepted", len(c.Reachability))
		}
		for _, tg := range c.Reachability {
			if CheckTarget(tg) != nil {
				t.Fatalf("invalid target %q accepted", tg)
			}
		}
		if len(c.NoProxy) > MaxNoProxy {
			t.Fatalf("%d no_proxy entries accepted", len(c.NoProxy))
		}
		if c.Proxy != "" {
			if _, err := proxy.ParseURL(c.Proxy); err != nil {
				t.Fatalf("invalid proxy %q accepted: %v", c.Proxy, err)
			}
		}
	})
}

// TestParseDuplicates checks that repeated keys are refused at once: the
// YAML decoder alone takes seconds and gigabytes of error text over them.
func TestParseDuplicates(t *testing.T) {
	_, err := Parse([]byte("reachability: [a:1]\nreachability: [b:1]\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "already set at line 1") {
		t.Errorf("duplicate key: %v", err)
	}
	start := time.Now()
	_, err = Parse([]byte(strings.Repeat("a: &a\n", 6000)))
	if err == nil || len(err.Error()) > 200 || time.Since(start) > time.Second {
		t.Errorf("6000 duplicates: %d bytes of error in %s", len(err.Error()), time.Since(start))
	}
}

// TestBudgetSettings: the budget a configuration sets is the one the agent
// runs with, budget's defaults where it sets none.
func TestBudgetSettings(t *testing.T) {
	for yaml, want := range map[string]string{
		"": "2% of one core, 1s at once",
		"on_demand_cpu: 5%\non_demand_burst: 3s\n": "5% of one core, 3s at once",
	} {
		c, err := Parse([]byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Budget()
		if err != nil || b.String() != want {
			t.Errorf("%q: budget %v (%v), want %s", yaml, b, err, want)
		}
	}
}

// TestBatteryFloorSettings: the floor a configuration sets is the one the
// agent runs with, 20 % when it sets none, and 0 % turns the rule off.
func TestBatteryFloorSettings(t *testing.T) {
	for yaml, want := range map[string]int{
		"":                     DefaultBatteryFloor,
		"battery_floor: 35%\n": 35,
		"battery_floor: 0%\n":  0,
	} {
		c, err := Parse([]byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.BatteryFloorPercent(); err != nil || got != want {
			t.Errorf("%q: floor %d (%v), want %d", yaml, got, err, want)
		}
	}
	all := "reachability: []\nproxy: ''\nproxy_password_file: ''\nno_proxy: []\nquic_retry: 5m\non_demand_cpu: 2%\non_demand_burst: 1s\nmemory_ceiling: 100MiB\nbattery_floor: 20%\n"
	if _, err := Parse([]byte(all)); err != nil {
		t.Errorf("every setting at once: %v", err)
	}
}
