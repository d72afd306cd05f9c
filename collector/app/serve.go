package app

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/internal/version"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/auditmark"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/metrics"
	"github.com/sondehq/sonde/collector/pki"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/collector/ui"
	"github.com/sondehq/sonde/internal/cliflag"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := cliflag.New("serve", "sonde-collector serve [--data DIR] [--quic ADDR] [--http ADDR]", stderr)
	data := fs.String("data", DefaultData, "data `dir`: CA, database")
	quicAddr := fs.String("quic", ":7443", "UDP `address` for agents (QUIC)")
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
	perAgent := fs.Bool("metrics-per-agent", false, "export per-agent series on /metrics (one set per agent: mind the cardinality)")
	auditEvery := fs.Duration("audit-checkpoint", time.Minute, "sign a checkpoint of the audit log's head this often when it moved (and at shutdown)")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logFormat)
	if err != nil {
		return err
	}
	ca, created, err := pki.LoadOrCreate(*data)
	if err != nil {
		return err
	}
	if created {
		log.Info("created the agent CA", "dir", *data, "ca_pin", ca.Pin())
	}
	st, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()

	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, sans...)
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	resetKey, err := pki.LoadOrCreateSecret(*data, pki.ResetKeyFile)
	if err != nil {
		return err
	}
	reqSeed, err := pki.LoadOrCreateSecret(*data, pki.RequestKeyFile)
	if err != nil {
		return err
	}
	m := metrics.New()
	srv, err := ingest.Listen(ingest.Config{
		Addr: *quicAddr, Hosts: hosts, CA: ca, Store: st, Log: log,
		HealthInterval: *health, Observe: m, ResetKey: (*quic.StatelessResetKey)(&resetKey),
		RequestKey: ed25519.NewKeyFromSeed(reqSeed[:]), RequireApproval: *approval,
	})
	if err != nil {
		return err
	}
	m.RegisterFleet(st, srv.Connected, *perAgent)
	seed, err := pki.LoadOrCreateSecret(*data, pki.BundleKeyFile)
	if err != nil {
		return err
	}
	// The audit log's head is anchored outside the database: a signed
	// checkpoint in DATA, in the log and on /metrics (package auditmark).
	if *auditEvery <= 0 {
		return errors.New("--audit-checkpoint must be positive")
	}
	marks, err := auditmark.Open(ctx, *data, st, log)
	if err != nil {
		return err
	}
	m.Registry.MustRegister(marks)
	// The team's own knowledge-base entries, if any, live in DATA/kb/.
	kbDir := filepath.Join(*data, "kb")
	if _, err := os.Stat(kbDir); err != nil {
		kbDir = ""
	}
	kb, err := findings.LoadKB(kbDir)
	if err != nil {
		return fmt.Errorf("knowledge base: %w", err)
	}
	a := &api.API{Store: st, Agents: srv, Log: log, Bundles: api.Bundler{
		Dir: filepath.Join(*data, "bundles"), Key: ed25519.NewKeyFromSeed(seed[:]), KB: kb, Version: version.Version,
	}}
	a.Checkpoints = marks.File()
	mux := http.NewServeMux()
	ah := a.Handler()
	mux.Handle("/api/", ah)
	mux.Handle("/livez", ah)
	mux.Handle("/readyz", ah)
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("/", ui.New(a, log))
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return fmt.Errorf("HTTP listener: %w", err)
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if *tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey); err != nil {
			return fmt.Errorf("HTTPS certificate: %w", err)
		}
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ctx) }()
	go thinHealth(ctx, st, log)
	go marks.Run(ctx, *auditEvery)
	scheme := "http://"
	if *tlsCert != "" {
		scheme = "https://"
	}
	if err := startAlerting(ctx, log, *data, scheme+ln.Addr().String(), a, srv, m, al); err != nil {
		return err
	}
	go func() {
		serve := func() error { return hs.Serve(ln) }
		if *tlsCert != "" {
			serve = func() error { return hs.ServeTLS(ln, *tlsCert, *tlsKey) }
		}
		if err := serve(); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	log.Info("collector serving", "quic", srv.Addr().String(), "http", scheme+ln.Addr().String(), "data", *data, "ca_pin", ca.Pin())
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	log.Info("collector stopping")
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	hs.Shutdown(shutdown)
	if err := marks.Mark(shutdown); err != nil {
		log.Warn("audit checkpoint at shutdown", "err", err)
	}
	cancel()
	return err
}

// thinHealth applies the retention of health samples every hour (see
// sqlite.DefaultRetention).
func thinHealth(ctx context.Context, st *sqlite.Store, log *slog.Logger) {
	for {
		n, err := st.Downsample(ctx, sqlite.DefaultRetention, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Warn("thinning health samples", "err", err)
		} else if n > 0 {
			log.Info("thinned health samples", "removed", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}
