package loadgen

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/agent/client"
)

// RawConfig configures the raw QUIC ceiling: what quic-go alone does with
// the same messages on this machine, with no protocol decoding and no
// store.
type RawConfig struct {
	Message []byte // what each stream carries (a snapshot frame)
	Ack     []byte // what the receiver answers once it has read Message
	// Conns is how many connections send at once, each one stream at a
	// time: the same shape as the ingest burst's senders.
	Conns     int
	PerSocket int // connections per sending UDP socket; default 250
	Warmup    time.Duration
	Window    time.Duration
}

// RawResult is what the raw ceiling measured.
type RawResult struct {
	Conns   int
	Window  time.Duration
	Acked   int64
	Rate    float64 // messages acked a second
	Latency Summary // write to ack
	// Total is every message acked, warm-up and end included, and CPU
	// this process's CPU time (both ends) over the same span.
	Total int64
	CPU   time.Duration
}

// serverQUIC is the collector's QUIC configuration for agents
// (collector/ingest's Listen; this package links no collector code), so
// that the receiver's flow control is the collector's.
func serverQUIC() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:           10 * time.Second,
		MaxIdleTimeout:                 12 * time.Second,
		MaxIncomingStreams:             8,
		MaxIncomingUniStreams:          -1,
		InitialStreamReceiveWindow:     256 << 10,
		MaxStreamReceiveWindow:         2 << 20,
		InitialConnectionReceiveWindow: 512 << 10,
		MaxConnectionReceiveWindow:     4 << 20,
	}
}

const rawALPN = "sonde-loadgen-raw"

// RawCeiling runs a minimal receiver and Conns senders over loopback QUIC:
// each stream carries Message, the receiver reads all of it and answers
// Ack, the sender reads Ack; acks within the window are counted.
func RawCeiling(ctx context.Context, cfg RawConfig) (RawResult, error) {
	if len(cfg.Message) == 0 || len(cfg.Ack) == 0 || cfg.Conns <= 0 {
		return RawResult{}, errors.New("raw ceiling: needs a message, an ack and a positive number of connections")
	}
	if cfg.PerSocket <= 0 {
		cfg.PerSocket = 250
	}
	cert, err := selfSigned()
	if err != nil {
		return RawResult{}, err
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		NextProtos: []string{rawALPN}}, serverQUIC())
	if err != nil {
		return RawResult{}, fmt.Errorf("raw ceiling: listening: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	defer cancel()
	wg.Go(func() { receive(ctx, ln, len(cfg.Message), cfg.Ack) })

	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	tc := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{rawALPN}}
	var trs []*quic.Transport
	defer func() {
		for _, tr := range trs {
			tr.Close()
			tr.Conn.Close()
		}
	}()
	conns := make([]*quic.Conn, 0, cfg.Conns)
	for i := range cfg.Conns {
		if i%cfg.PerSocket == 0 {
			udp, err := net.ListenUDP("udp4", nil)
			if err != nil {
				return RawResult{}, fmt.Errorf("raw ceiling: opening a socket: %w", err)
			}
			trs = append(trs, &quic.Transport{Conn: udp})
		}
		dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
		c, err := trs[len(trs)-1].Dial(dctx, ln.Addr(), tc, client.QUICConfig())
		dcancel()
		if err != nil {
			return RawResult{}, fmt.Errorf("raw ceiling: connecting: %w", err)
		}
		conns = append(conns, c)
	}
	var (
		acked    atomic.Int64
		total    atomic.Int64
		counting atomic.Bool
		lat      Latencies
		senders  sync.WaitGroup
		failure  atomic.Pointer[error]
	)
	self := Process{PID: os.Getpid()}
	cpu0, err := self.CPU()
	if err != nil {
		return RawResult{}, fmt.Errorf("raw ceiling: %w", err)
	}
	stop := make(chan struct{})
	for _, c := range conns {
		senders.Go(func() {
			defer c.CloseWithError(0, "")
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				if err := rawSend(ctx, c, cfg.Message, len(cfg.Ack)); err != nil {
					if ctx.Err() == nil {
						failure.CompareAndSwap(nil, &err)
					}
					return
				}
				total.Add(1)
				if counting.Load() {
					acked.Add(1)
					lat.Add(time.Since(start))
				}
			}
		})
	}
	sleep(ctx, nil, cfg.Warmup)
	counting.Store(true)
	began := time.Now()
	sleep(ctx, nil, cfg.Window)
	counting.Store(false)
	took := time.Since(began)
	close(stop)
	senders.Wait()
	cpu1, err := self.CPU()
	if err != nil {
		return RawResult{}, fmt.Errorf("raw ceiling: %w", err)
	}
	if err := failure.Load(); err != nil {
		return RawResult{}, fmt.Errorf("raw ceiling: %w", *err)
	}
	n := acked.Load()
	return RawResult{Conns: cfg.Conns, Window: took, Acked: n, Rate: float64(n) / took.Seconds(), Latency: lat.Summary(),
		Total: total.Load(), CPU: cpu1 - cpu0}, nil
}

// rawSend sends msg on a new stream and reads an ack of ackLen bytes.
func rawSend(ctx context.Context, c *quic.Conn, msg []byte, ackLen int) error {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	str, err := c.OpenStreamSync(sctx)
	if err != nil {
		return fmt.Errorf("opening a stream: %w", err)
	}
	defer str.Close()
	defer str.CancelRead(0)
	str.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := str.Write(msg); err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	ack := make([]byte, ackLen)
	if _, err := io.ReadFull(str, ack); err != nil {
		return fmt.Errorf("reading the ack: %w", err)
	}
	return nil
}

// receive accepts connections and answers every stream: read size bytes,
// then write ack.
func receive(ctx context.Context, ln *quic.Listener, size int, ack []byte) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		wg.Go(func() {
			var streams sync.WaitGroup
			defer streams.Wait()
			for {
				str, err := c.AcceptStream(ctx)
				if err != nil {
					return
				}
				streams.Go(func() {
					defer str.Close()
					defer str.CancelRead(0)
					str.SetDeadline(time.Now().Add(30 * time.Second))
					buf := make([]byte, size)
					if _, err := io.ReadFull(str, buf); err != nil {
						return
					}
					str.Write(ack)
				})
			}
		})
	}
}

// selfSigned makes the receiver's certificate, for 127.0.0.1.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("raw ceiling: making a key: %w", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sonde-loadgen raw"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("raw ceiling: making a certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("raw ceiling: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
