package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves Go's profiles (/debug/pprof/) on addr, a loopback
// address, for measuring the collector under load (sonde-loadgen bench
// takes a CPU profile through it). It is off unless --pprof is given: a
// profile shows the collector's internals, and CPU profiling costs while it
// runs. It returns the address it listens on and the function that stops
// it. An empty addr serves nothing.
func startPprof(addr string, log *slog.Logger) (bound net.Addr, stop func(), err error) {
	if addr == "" {
		return nil, func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--pprof listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server stopped", "err", err)
		}
	}()
	log.Info("serving Go profiles", "pprof", "http://"+ln.Addr().String()+"/debug/pprof/")
	return ln.Addr(), func() {
		hs.Close() // a profile under way is cut: it is only a measurement
		<-done
	}, nil
}

// checkLoopback checks that addr is a loopback HOST:PORT: profiles are not
// for the network.
func checkLoopback(flag, addr string) error {
	if err := checkAddr(flag, addr); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s %q: only a loopback address (127.0.0.1:PORT, [::1]:PORT, localhost:PORT)", flag, addr)
	}
	return nil
}
