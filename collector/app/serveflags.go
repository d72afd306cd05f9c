package app

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sondehq/sonde/internal/cliflag"
)

// serveConfig is serve's command line, checked whole (and the HTTPS key
// pair loaded) before serve touches the data dir or the network: a typo
// costs neither a half-made data dir nor a port held for nothing.
type serveConfig struct {
	data, quicAddr, httpAddr string
	tcpAddr                  string // "" for no TCP fallback
	sans                     []string
	health                   time.Duration
	log                      *slog.Logger
	approval                 bool
	tls                      *tls.Certificate // nil: plain HTTP
	alerts                   alertFlags
	helpdesks                helpdeskFlags
	desks                    *helpdesks // nil: none
	perAgent                 bool
	auditEvery               time.Duration
	pprofAddr                string // "" for none
}

// parseServe parses and checks serve's flags. It reads the HTTPS
// certificate and key files and the helpdesks file, and nothing else.
func parseServe(args []string, stderr io.Writer) (*serveConfig, error) {
	fs := cliflag.New("serve", "sonde-collector serve [--data DIR] [--quic ADDR] [--tcp ADDR] [--http ADDR]", stderr)
	data := fs.String("data", DefaultData, "data `dir`: CA, database")
	quicAddr := fs.String("quic", ":7443", "UDP `address` for agents (QUIC)")
	tcpAddr := fs.String("tcp", sameAsQUIC, "TCP `address` for agents whose network blocks UDP (TLS 1.3 over TCP); \"\" for none")
	httpAddr := fs.String("http", "127.0.0.1:7080", "TCP `address` for the API, UI and /metrics")
	var sans cliflag.List
	fs.Var(&sans, "san", "extra host `names` or IPs agents use to reach this collector (comma-separated, repeatable)")
	health := fs.Duration("health-interval", 0, "periodic health interval to give agents (0: agents keep theirs, 60s by default)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	approval := fs.Bool("require-approval", false, "new agents wait for an admin (sonde-collector agent approve ID) before they may connect")
	tlsCert := fs.String("tls-cert", "", "serve the API and UI over HTTPS with this certificate `file` (PEM; needs --tls-key)")
	tlsKey := fs.String("tls-key", "", "the private key `file` for --tls-cert")
	var al alertFlags
	al.register(fs)
	var hd helpdeskFlags
	hd.register(fs)
	perAgent := fs.Bool("metrics-per-agent", false, "export per-agent series on /metrics (one set per agent: mind the cardinality)")
	auditEvery := fs.Duration("audit-checkpoint", time.Minute, "sign a checkpoint of the audit log's head this often when it moved (and at shutdown)")
	pprofAddr := fs.String("pprof", "", "serve Go's profiles (/debug/pprof/) on this loopback `address`, for measuring; off by default")
	pos, err := cliflag.Parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, fmt.Errorf("serve takes no arguments, only flags (got %q)", strings.Join(pos, " "))
	}
	log, err := newLogger(stderr, *logFormat)
	if err != nil {
		return nil, err
	}
	c := &serveConfig{data: *data, quicAddr: *quicAddr, tcpAddr: *tcpAddr, httpAddr: *httpAddr, sans: sans, health: *health, log: log,
		approval: *approval, alerts: al, helpdesks: hd, perAgent: *perAgent, auditEvery: *auditEvery,
		pprofAddr: *pprofAddr}
	if c.data == "" {
		return nil, errors.New("--data must name a folder")
	}
	if err := checkAddr("--quic", c.quicAddr); err != nil {
		return nil, err
	}
	if c.tcpAddr == sameAsQUIC {
		c.tcpAddr = c.quicAddr
	}
	if c.tcpAddr != "" {
		if err := checkAddr("--tcp", c.tcpAddr); err != nil {
			return nil, err
		}
	}
	if err := checkAddr("--http", c.httpAddr); err != nil {
		return nil, err
	}
	if c.pprofAddr != "" {
		if err := checkLoopback("--pprof", c.pprofAddr); err != nil {
			return nil, err
		}
	}
	if c.health < 0 {
		return nil, fmt.Errorf("--health-interval must not be negative (got %s)", c.health)
	}
	if c.auditEvery <= 0 {
		return nil, fmt.Errorf("--audit-checkpoint must be positive (got %s)", c.auditEvery)
	}
	if err := al.check(); err != nil {
		return nil, err
	}
	if err := hd.check(); err != nil {
		return nil, err
	}
	if c.desks, err = loadHelpdesks(hd, c.data); err != nil {
		return nil, err
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together: give both for HTTPS, or neither")
	}
	if *tlsCert != "" {
		pair, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return nil, fmt.Errorf("HTTPS certificate (--tls-cert, --tls-key): %w", err)
		}
		c.tls = &pair
	}
	return c, nil
}

// sameAsQUIC is --tcp's default: the QUIC address's port number, on TCP.
const sameAsQUIC = "same as --quic"

// checkAddr checks that addr is HOST:PORT with a numeric port, without
// resolving the host.
func checkAddr(flag, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: want HOST:PORT or :PORT (%v)", flag, addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%s %q: the port must be a number from 0 to 65535", flag, addr)
	}
	return nil
}

// checkURL checks that s is an absolute http or https URL.
func checkURL(flag, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an http:// or https:// URL", flag, s)
	}
	return nil
}
