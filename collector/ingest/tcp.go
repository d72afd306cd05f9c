package ingest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sondehq/sonde/internal/transport/tcp"
)

// The TCP fallback: TLS 1.3 and yamux (internal/transport/tcp) on the same
// port number as QUIC, for agents whose network blocks UDP. Its connections
// take the same way in as QUIC's (handleConn), with the same certificate,
// ALPN, handshake deadline, idle timeout and stream limit, and receive
// windows that bound an agent's bytes in flight alike (maxStreams streams,
// and as many waiting for an accept, of 256 KiB each: 4 MiB). What differs
// is the defence against floods: a TCP handshake proves the source address,
// so instead of QUIC's Retry under load each source address has a token
// bucket of new connections, and the listener bounds the TLS handshakes in
// progress.
const (
	tcpSourceRate  = 50    // new connections a second from one address, sustained
	tcpSourceBurst = 200   // and at once: a fleet behind one NAT reconnecting
	tcpHandshakes  = 256   // TLS handshakes in progress at once
	maxSources     = 16384 // addresses tracked; see sources.admit
	tcpWindow      = 256 << 10
)

// listenTCP serves the TCP fallback on ln.
func (s *Server) listenTCP(ln net.Listener, tc *tls.Config) {
	s.srcs = &sources{m: map[netip.Addr]*bucket{}}
	s.tcp = tcp.NewListener(ln, tc, &tcp.Config{
		HandshakeTimeout:   handshakeTimeout,
		IdleTimeout:        s.cfg.live.idle,
		MaxIncomingStreams: maxStreams,
		MaxStreamWindow:    tcpWindow,
		MaxHandshakes:      tcpHandshakes,
		Admit:              func(a net.Addr) bool { return s.srcs.admit(a, time.Now()) },
	})
}

// bindTries bounds the attempts at a port number free on both UDP and TCP
// when the kernel picks it.
const bindTries = 20

// bind opens the UDP socket on addr and, unless tcpAddr is "", the TCP one
// on tcpAddr. A tcpAddr equal to addr means the same port number on TCP,
// even when the port asked for is 0: then the kernel's pick for UDP may be
// taken on TCP, and bind tries another, up to bindTries times.
func bind(addr, tcpAddr string) (*net.UDPConn, net.Listener, error) {
	udpAddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("QUIC address %q: %w", addr, err)
	}
	same := tcpAddr == addr
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("QUIC address %q: %w", addr, err)
	}
	for try := 1; ; try++ {
		udp, err := net.ListenUDP("udp", udpAddr)
		if err != nil {
			return nil, nil, fmt.Errorf("QUIC listener: %w", err)
		}
		if tcpAddr == "" {
			return udp, nil, nil
		}
		at := tcpAddr
		if same {
			at = net.JoinHostPort(host, strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port))
		}
		ln, err := net.Listen("tcp", at)
		if err == nil {
			return udp, ln, nil
		}
		udp.Close()
		if !same || udpAddr.Port != 0 || !errors.Is(err, syscall.EADDRINUSE) || try == bindTries {
			return nil, nil, fmt.Errorf("TCP listener (for agents whose network blocks UDP): %w", err)
		}
	}
}

// TCPAddr is the address of the TCP listener, nil without one.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// sources are the token buckets of new TCP connections, one per source
// address.
type sources struct {
	mu sync.Mutex
	m  map[netip.Addr]*bucket
}

// admit spends a token of a's bucket, reporting whether one was left.
// Past maxSources addresses, those whose bucket has refilled (quiet for
// tcpSourceBurst/tcpSourceRate seconds) are forgotten; if that is not
// enough, all are: a flood from that many addresses is the handshake
// bound's to stop.
func (s *sources) admit(a net.Addr, now time.Time) bool {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return true
	}
	ip := ap.Addr().Unmap()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.m[ip]
	if b == nil {
		if len(s.m) >= maxSources {
			s.prune(now)
		}
		b = newBucket(tcpSourceRate, tcpSourceBurst, now)
		s.m[ip] = b
	}
	return b.take(now)
}

func (s *sources) prune(now time.Time) {
	full := time.Duration(tcpSourceBurst / tcpSourceRate * float64(time.Second))
	for ip, b := range s.m {
		if now.Sub(b.last) >= full {
			delete(s.m, ip)
		}
	}
	if len(s.m) >= maxSources {
		clear(s.m)
	}
}
