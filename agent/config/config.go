// Package config reads the agent's configuration file: the few settings IT
// sets on a machine at install time, such as the targets the reachability
// probe checks. The collector never changes them: a request can choose
// which probes run, never what they connect to.
//
// The file is YAML, decoded strictly (an unknown key is an error, so a typo
// is found at start, not silently ignored) and bounded in size:
//
//	reachability:
//	  - intranet.example.com:443
//	  - 10.0.0.5:3389
//	proxy: http://sonde@proxy.corp.example:3128
//	proxy_password_file: proxy-password
//	no_proxy: [.corp.example, 10.0.0.0/8]
//	quic_retry: 5m
//	on_demand_cpu: 2%
//	on_demand_burst: 1s
//	memory_ceiling: 100MiB
//	battery_floor: 20%
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sondehq/sonde/agent/budget"
)

// Bounds of the file.
const (
	// MaxSize bounds the file: a list of targets fits in far less.
	MaxSize = 64 << 10
	// MaxTargets bounds the reachability targets, all checked at once.
	MaxTargets = 32
)

// Config is the agent's configuration. The zero Config is valid: no
// targets.
type Config struct {
	// Reachability lists host:port targets the reachability probe
	// resolves and opens a TCP connection to.
	Reachability []string `yaml:"reachability"`
	// Proxy is the HTTP proxy the agent reaches its collector through
	// over TLS-over-TCP (where UDP is blocked):
	// http://[user[:password]@]host:port, or https://. It comes before
	// the environment's and the system's proxies. Use ProxyURL, which
	// adds the password of ProxyPasswordFile.
	Proxy string `yaml:"proxy"`
	// ProxyPasswordFile names a file whose first line is the proxy's
	// password, so that agent.yaml (readable by every local user) holds
	// none: a path relative to agent.yaml's folder, readable by the
	// agent's account only (others may not read it). Proxy must name the
	// user.
	ProxyPasswordFile string `yaml:"proxy_password_file"`
	// NoProxy lists the targets never reached through a proxy, whichever
	// configured it, in NO_PROXY's syntax: a host name (and its
	// subdomains), .domain (subdomains only), an IP address or CIDR
	// block, each with an optional :port, or "*". A YAML list, or one
	// comma-separated string as NO_PROXY writes it.
	NoProxy HostList `yaml:"no_proxy"`
	// QUICRetry is how often an agent connected over TCP, because UDP is
	// blocked on its network, tries QUIC again: a Go duration ("5m"),
	// from MinQUICRetry to MaxQUICRetry; empty means 5 minutes.
	QUICRetry string `yaml:"quic_retry"`
	// OnDemandCPU is the share of one core that snapshots asked for by
	// the collector (on demand, bundles) may take on average: a
	// percentage ("2%") from 0.5% to 50%; empty means 2%. Health samples
	// are not counted: they keep their own pace. See package budget.
	OnDemandCPU string `yaml:"on_demand_cpu"`
	// OnDemandBurst is the CPU time they may take at once before the
	// average holds them back: a Go duration ("1s") from 100ms to 1m;
	// empty means 1s.
	OnDemandBurst string `yaml:"on_demand_burst"`
	// MemoryCeiling bounds the memory the agent holds ("100MiB", from
	// 32MiB to 4GiB; empty means 100MiB): a snapshot that takes it past is
	// dropped, and an agent that stays past it with nothing asked ends,
	// for the service manager to start it again.
	MemoryCeiling string `yaml:"memory_ceiling"`
	// BatteryFloor is the battery charge below which heavy probes (logs,
	// software, storage health, the disk walk) wait while the machine
	// runs on its battery, unless the request says the person at the
	// machine agreed: a percentage ("20%") from 0% to 100%; 0% turns the
	// rule off; empty means 20%. Health samples and snapshots without
	// heavy probes are never held back.
	BatteryFloor string `yaml:"battery_floor"`

	dir string // agent.yaml's folder, for ProxyPasswordFile
}

// DefaultPath returns where the agent looks for its configuration when
// --config is not given: /etc/sonde-agent/agent.yaml on Linux,
// %ProgramData%\Sonde\agent.yaml on Windows, /Library/Application
// Support/Sonde/agent.yaml on macOS.
func DefaultPath() string {
	switch runtime.GOOS {
	case "windows":
		if p := os.Getenv("ProgramData"); p != "" {
			return filepath.Join(p, "Sonde", "agent.yaml")
		}
		return `C:\ProgramData\Sonde\agent.yaml`
	case "darwin":
		return "/Library/Application Support/Sonde/agent.yaml"
	}
	return "/etc/sonde-agent/agent.yaml"
}

// Load reads the file at path, or DefaultPath when path is empty. A missing
// default file gives the zero Config; a missing file that was named, or a
// broken one, is an error that names the file.
func Load(path string) (*Config, error) {
	if path == "" {
		return load(DefaultPath(), false)
	}
	return load(path, true)
}

// load reads the file at path; named says whether the user named it.
func load(path string, named bool) (*Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !named {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the agent configuration: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the agent configuration: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("agent configuration %s: %w", path, err)
	}
	c.dir = filepath.Dir(path)
	if _, err := c.ProxyURL(); err != nil { // a missing password file shows at start
		return nil, fmt.Errorf("agent configuration %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and checks a configuration file's content.
func Parse(b []byte) (*Config, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxSize)
	}
	if err := checkShape(b); err != nil {
		return nil, err
	}
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decoding YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("only one YAML document is allowed")
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// maxKeys bounds the top-level keys checkShape lets through.
const maxKeys = 9

// checkShape refuses, with its line, a top-level key given twice, and more
// than maxKeys keys, before the strict decoder sees them: it reports
// duplicates in time and text that grow with the square of their number.
func checkShape(b []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("decoding YAML: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil // empty, or a shape the decoder refuses with its own words
	}
	m := doc.Content[0]
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if len(seen) == maxKeys {
			return fmt.Errorf("line %d: more than %d settings", k.Line, maxKeys)
		}
		if first, dup := seen[k.Value]; dup {
			return fmt.Errorf("line %d: %.40q is already set at line %d", k.Line, k.Value, first)
		}
		seen[k.Value] = k.Line
	}
	return nil
}

// validate checks the proxy settings (see validateProxy) and the targets:
// at most MaxTargets, each host:port with a host name or address and a
// port from 1 to 65535, none twice.
func (c *Config) validate() error {
	if err := c.validateProxy(); err != nil {
		return err
	}
	if _, err := c.QUICRetryPeriod(); err != nil {
		return err
	}
	if _, err := c.Budget(); err != nil {
		return err
	}
	if _, err := c.MemoryCeilingBytes(); err != nil {
		return err
	}
	if _, err := c.BatteryFloorPercent(); err != nil {
		return err
	}
	if len(c.Reachability) > MaxTargets {
		return fmt.Errorf("reachability: %d targets, at most %d", len(c.Reachability), MaxTargets)
	}
	seen := make(map[string]bool, len(c.Reachability))
	for i, t := range c.Reachability {
		if err := CheckTarget(t); err != nil {
			return fmt.Errorf("reachability[%d]: %w", i, err)
		}
		key := strings.ToLower(t)
		if seen[key] {
			return fmt.Errorf("reachability[%d]: %q is listed twice", i, t)
		}
		seen[key] = true
	}
	return nil
}

// Bounds of quic_retry: often enough to matter, rarely enough to cost
// nothing on a network that blocks UDP for good.
const (
	MinQUICRetry = 10 * time.Second
	MaxQUICRetry = 24 * time.Hour
)

// Budget returns the on-demand budget on_demand_cpu and on_demand_burst
// set, budget's defaults where they are empty.
func (c *Config) Budget() (*budget.Budget, error) {
	share, burst := budget.DefaultShare, budget.DefaultBurst
	if c.OnDemandCPU != "" {
		pct, ok := strings.CutSuffix(strings.TrimSpace(c.OnDemandCPU), "%")
		v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("on_demand_cpu: %q is not a percentage of one core (\"2%%\")", c.OnDemandCPU)
		}
		share = v / 100
	}
	if c.OnDemandBurst != "" {
		d, err := time.ParseDuration(c.OnDemandBurst)
		if err != nil {
			return nil, fmt.Errorf("on_demand_burst: %q is not a duration (\"1s\")", c.OnDemandBurst)
		}
		burst = d
	}
	b, err := budget.New(share, burst)
	if err != nil {
		return nil, fmt.Errorf("on_demand_cpu, on_demand_burst: %w", err)
	}
	return b, nil
}

// Bounds and default of memory_ceiling: room for the heavy probes on a
// large machine at the low end, far from what a laptop can spare at the
// high end.
const (
	MinMemoryCeiling     = 32 << 20
	MaxMemoryCeiling     = 4 << 30
	DefaultMemoryCeiling = 100 << 20
)

// MemoryCeilingBytes returns memory_ceiling in bytes, DefaultMemoryCeiling
// when it is not set.
func (c *Config) MemoryCeilingBytes() (uint64, error) {
	if c.MemoryCeiling == "" {
		return DefaultMemoryCeiling, nil
	}
	v := strings.TrimSpace(c.MemoryCeiling)
	unit := uint64(0)
	switch {
	case strings.HasSuffix(v, "MiB"):
		unit, v = 1<<20, strings.TrimSuffix(v, "MiB")
	case strings.HasSuffix(v, "GiB"):
		unit, v = 1<<30, strings.TrimSuffix(v, "GiB")
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if unit == 0 || err != nil || n*unit < MinMemoryCeiling || n*unit > MaxMemoryCeiling {
		return 0, fmt.Errorf("memory_ceiling: %q is not a size from 32MiB to 4GiB (\"100MiB\")", c.MemoryCeiling)
	}
	return n * unit, nil
}

// DefaultBatteryFloor is battery_floor's default, in percent: what
// laptops call a low battery.
const DefaultBatteryFloor = 20

// BatteryFloorPercent returns battery_floor in percent (0 turns the
// battery rule off), DefaultBatteryFloor when it is not set.
func (c *Config) BatteryFloorPercent() (int, error) {
	if c.BatteryFloor == "" {
		return DefaultBatteryFloor, nil
	}
	pct, ok := strings.CutSuffix(strings.TrimSpace(c.BatteryFloor), "%")
	n, err := strconv.Atoi(strings.TrimSpace(pct))
	if !ok || err != nil || n < 0 || n > 100 {
		return 0, fmt.Errorf("battery_floor: %q is not a whole percentage from 0%% to 100%% (\"20%%\")", c.BatteryFloor)
	}
	return n, nil
}

// QUICRetryPeriod returns quic_retry, 0 when it is not set.
func (c *Config) QUICRetryPeriod() (time.Duration, error) {
	if c.QUICRetry == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.QUICRetry)
	if err != nil || d < MinQUICRetry || d > MaxQUICRetry {
		return 0, fmt.Errorf("quic_retry: %q is not a duration from %s to %s (\"5m\")", c.QUICRetry, MinQUICRetry, MaxQUICRetry)
	}
	return d, nil
}

// CheckTarget checks one host:port target: a DNS name (letters, digits,
// hyphens and underscores in dot-separated labels of at most 63 bytes, 253
// in all) or an IP address (IPv6 in brackets), and a decimal port from 1
// to 65535.
func CheckTarget(t string) error {
	if len(t) > 260 {
		return fmt.Errorf("%.40q...: longer than 260 bytes", t)
	}
	host, port, err := net.SplitHostPort(t)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", t, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || port[0] == '0' {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", t, port)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return fmt.Errorf("%q: an address with a zone is not allowed", t)
		}
		if a.Is4() && strings.Contains(t, "[") {
			return fmt.Errorf("%q: brackets are for IPv6 addresses", t)
		}
		return nil
	}
	if strings.Contains(host, ":") {
		return fmt.Errorf("%q: %q is not an IPv6 address", t, host)
	}
	if err := checkHostname(host); err != nil {
		return fmt.Errorf("%q: %w", t, err)
	}
	return nil
}

// checkHostname checks a DNS name as resolvers accept it.
func checkHostname(h string) error {
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return errors.New("no host")
	}
	if len(h) > 253 {
		return errors.New("host name longer than 253 bytes")
	}
	labels := strings.Split(h, ".")
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" {
		return fmt.Errorf("%q is neither an IP address nor a host name", h)
	}
	for _, label := range labels {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host name %q has an empty label or one longer than 63 bytes", h)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host name %q has a label that starts or ends with a hyphen", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("host name %q holds %q", h, c)
			}
		}
	}
	return nil
}
