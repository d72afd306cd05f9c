package app

import (
	"cmp"
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
	"golang.org/x/sync/errgroup"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/auditmark"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/metrics"
	"github.com/sondehq/sonde/collector/pki"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/collector/ui"
)

// Shutdown bounds; tests shorten them.
var (
	httpGrace = 5 * time.Second // for HTTP requests in flight to finish
	markGrace = 5 * time.Second // for the last audit checkpoint
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	c, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
	return c.serve(ctx)
}

// serve runs the collector until ctx ends or one of its servers fails. It
// opens the data dir first (CA, store, keys, knowledge base, rules) and the
// network last (QUIC, TCP, HTTP). It stops in order: it stops accepting
// (QUIC, TCP and HTTP), lets the ingest in flight drain (a snapshot being stored is
// acked once committed), stops the background loops (alerting, thinning,
// audit checkpoints), writes a last checkpoint and closes the store last.
// Every goroutine it starts has ended when it returns. It returns the
// errors met on the way, the HTTP server's shutdown included: nil after a
// clean stop.
func (c *serveConfig) serve(ctx context.Context) (err error) {
	log := c.log
	ca, created, err := pki.LoadOrCreate(c.data)
	if err != nil {
		return err
	}
	if created {
		log.Info("created the agent CA", "dir", c.data, "ca_pin", ca.Pin())
	}
	st, err := openData(ctx, c.data)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("closing the store: %w", cerr))
		} else {
			log.Info("store closed")
		}
		if err != nil {
			log.Error("collector stopped", "err", err)
		} else {
			log.Info("collector stopped")
		}
	}()

	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, c.sans...)
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	resetKey, err := pki.LoadOrCreateSecret(c.data, pki.ResetKeyFile)
	if err != nil {
		return err
	}
	reqSeed, err := pki.LoadOrCreateSecret(c.data, pki.RequestKeyFile)
	if err != nil {
		return err
	}
	seed, err := pki.LoadOrCreateSecret(c.data, pki.BundleKeyFile)
	if err != nil {
		return err
	}
	// The audit log's head is anchored outside the database: a signed
	// checkpoint in DATA, in the log and on /metrics (package auditmark).
	marks, err := auditmark.Open(ctx, c.data, st, log)
	if err != nil {
		return err
	}
	// The team's own knowledge-base entries, if any, live in DATA/kb/.
	kbDir := filepath.Join(c.data, "kb")
	if _, err := os.Stat(kbDir); err != nil {
		kbDir = ""
	}
	kb, err := findings.LoadKB(kbDir)
	if err != nil {
		return fmt.Errorf("knowledge base: %w", err)
	}
	al, err := loadAlerting(ctx, log, c.data, st, c.alerts)
	if err != nil {
		return err
	}

	// The network, last.
	m := metrics.New()
	srv, err := ingest.Listen(ingest.Config{
		Addr: c.quicAddr, TCPAddr: c.tcpAddr, Hosts: hosts, CA: ca, Store: st, Log: log,
		HealthInterval: c.health, Observe: m, ResetKey: (*quic.StatelessResetKey)(&resetKey),
		RequestKey: ed25519.NewKeyFromSeed(reqSeed[:]), RequireApproval: c.approval,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.httpAddr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("HTTP listener: %w", err)
	}
	_, stopPprof, err := startPprof(c.pprofAddr, log)
	if err != nil {
		ln.Close()
		srv.Close()
		return err
	}
	defer stopPprof()
	scheme := "http://"
	if c.tls != nil {
		scheme = "https://"
	}
	public := cmp.Or(*c.helpdesks.publicURL, scheme+ln.Addr().String())
	cour := c.desks.courier(c.helpdesks, c.data, public, st, log)
	m.RegisterFleet(st, srv.Connected, c.perAgent)
	m.Registry.MustRegister(marks)
	a := &api.API{Store: st, Agents: srv, Log: log, Bundles: api.Bundler{
		Dir: filepath.Join(c.data, "bundles"), Key: ed25519.NewKeyFromSeed(seed[:]), KB: kb, Version: version.Version,
	}}
	a.Checkpoints = marks.File()
	if cour != nil {
		a.Helpdesks = cour
		m.Registry.MustRegister(cour.Collector())
	}
	mux := http.NewServeMux()
	ah := a.Handler()
	mux.Handle("/api/", ah)
	mux.Handle("/livez", ah)
	mux.Handle("/readyz", ah)
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("/", ui.New(a, log))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	if c.tls != nil {
		hs.TLSConfig.Certificates = []tls.Certificate{*c.tls}
	}

	// The background loops stop once the ingest has drained.
	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoops()
	var loops errgroup.Group
	loops.Go(func() error { thinHealth(loopCtx, st, log); return nil })
	loops.Go(func() error { marks.Run(loopCtx, c.auditEvery); return nil })
	al.start(loopCtx, &loops, log, public, a, srv, m)
	if cour != nil {
		loops.Go(func() error { cour.Run(loopCtx); return nil })
	}

	// The servers stop when told, below; failed ends when one fails.
	ingestCtx, stopIngest := context.WithCancel(context.WithoutCancel(ctx))
	defer stopIngest()
	servers, failed := errgroup.WithContext(context.WithoutCancel(ctx))
	servers.Go(func() error {
		if err := srv.Serve(ingestCtx); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		return nil
	})
	servers.Go(func() error {
		var err error
		if c.tls != nil {
			err = hs.ServeTLS(ln, "", "")
		} else {
			err = hs.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("HTTP server: %w", err)
	})
	tcpAddr := "off"
	if a := srv.TCPAddr(); a != nil {
		tcpAddr = a.String()
	}
	log.Info("collector serving", "quic", srv.Addr().String(), "tcp", tcpAddr, "http", scheme+ln.Addr().String(), "data", c.data, "ca_pin", ca.Pin())

	select {
	case <-ctx.Done():
		log.Info("collector stopping", "cause", context.Cause(ctx))
	case <-failed.Done():
		log.Error("collector stopping", "cause", context.Cause(failed))
	}
	stopIngest() // stops accepting, then drains
	errs := []error{stopHTTP(hs, log), servers.Wait()}
	stopLoops()
	loops.Wait()
	log.Info("background loops stopped")
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markGrace)
	defer cancel()
	if err := marks.Mark(markCtx); err != nil {
		log.Warn("audit checkpoint at shutdown", "err", err)
	}
	return errors.Join(errs...)
}

// stopHTTP stops the HTTP server: it stops accepting and waits, up to
// httpGrace, for the requests in flight; then it cuts those left and says so.
func stopHTTP(hs *http.Server, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), httpGrace)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		hs.Close()
		return fmt.Errorf("HTTP shutdown: requests still in flight after %s were cut: %w", httpGrace, err)
	}
	log.Info("HTTP server stopped")
	return nil
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
