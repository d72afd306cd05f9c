package tcp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/sondehq/sonde/internal/transport"
)

// Dial opens a connection to addr: TCP, then TLS 1.3 with tc (its
// NextProtos must be agreed on), then the record layer and yamux.
// Config.HandshakeTimeout bounds the whole.
func Dial(ctx context.Context, addr string, tc *tls.Config, cfg *Config) (transport.Conn, error) {
	c := cfg.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, c.HandshakeTimeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	return handshake(ctx, raw, tc, c)
}

// Client runs the client's side over raw, a connection the caller made
// (through a proxy, say); it owns raw from then on.
func Client(ctx context.Context, raw net.Conn, tc *tls.Config, cfg *Config) (transport.Conn, error) {
	c := cfg.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, c.HandshakeTimeout)
	defer cancel()
	return handshake(ctx, raw, tc, c)
}

func handshake(ctx context.Context, raw net.Conn, tc *tls.Config, cfg Config) (transport.Conn, error) {
	tlsConn := tls.Client(raw, tls13(tc))
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	if err := checkALPN(tc, tlsConn.ConnectionState()); err != nil {
		raw.Close()
		return nil, err
	}
	c, err := newConn(raw, tlsConn, true, cfg)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("starting the connection: %w", err)
	}
	return c, nil
}

// tls13 is tc with TLS 1.3 required.
func tls13(tc *tls.Config) *tls.Config {
	tc = tc.Clone()
	tc.MinVersion = tls.VersionTLS13
	return tc
}

// checkALPN refuses a connection without the application protocol, which
// Go's TLS allows when the peer offers none: QUIC requires one.
func checkALPN(tc *tls.Config, cs tls.ConnectionState) error {
	if len(tc.NextProtos) > 0 && cs.NegotiatedProtocol == "" {
		return errors.New("tls: no application protocol agreed")
	}
	return nil
}

// Listener accepts TCP connections: it runs their handshakes, at most
// Config.MaxHandshakes at once and each within Config.HandshakeTimeout,
// after asking Config.Admit, and queues those that complete for Accept.
type Listener struct {
	ln    net.Listener
	tc    *tls.Config
	cfg   Config
	ready chan *conn    // handshakes done, waiting for Accept
	slots chan struct{} // one per handshake in progress

	ctx    context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup // the accept loop and the handshakes
	closed chan struct{}  // closed once nothing more will be queued
	once   sync.Once
}

var _ transport.Listener = (*Listener)(nil)

// acceptQueue is how many handshaken connections wait for Accept; past it
// new ones are closed, as quic-go refuses them.
const acceptQueue = 32

// Listen listens on addr (TCP) with tc, whose NextProtos must be agreed on.
func Listen(addr string, tc *tls.Config, cfg *Config) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("TCP listener: %w", err)
	}
	return NewListener(ln, tc, cfg), nil
}

// NewListener serves on ln; closing the Listener closes ln.
func NewListener(ln net.Listener, tc *tls.Config, cfg *Config) *Listener {
	l := &Listener{ln: ln, tc: tls13(tc), cfg: cfg.withDefaults(), ready: make(chan *conn, acceptQueue), closed: make(chan struct{})}
	l.slots = make(chan struct{}, l.cfg.MaxHandshakes)
	l.ctx, l.stop = context.WithCancel(context.Background())
	l.wg.Go(l.acceptLoop)
	return l
}

// Addr is the address listened on.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Accept returns the next connection whose handshake completed. After
// Close it returns those still queued, then net.ErrClosed.
func (l *Listener) Accept(ctx context.Context) (transport.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.closed:
		select {
		case c := <-l.ready:
			return c, nil
		default:
			return nil, net.ErrClosed
		}
	}
}

// Close stops accepting and ends the handshakes in progress; connections
// already queued are left for Accept.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		l.stop()
		err = l.ln.Close()
		l.wg.Wait()
		close(l.closed)
	})
	return err
}

func (l *Listener) acceptLoop() {
	backoff := 5 * time.Millisecond
	for {
		raw, err := l.ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: wait, as net/http does.
			select {
			case <-time.After(backoff):
			case <-l.ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if l.cfg.Admit != nil && !l.cfg.Admit(raw.RemoteAddr()) {
			raw.Close()
			continue
		}
		select {
		case l.slots <- struct{}{}:
		default:
			raw.Close() // too many handshakes at once
			continue
		}
		l.wg.Go(func() {
			defer func() { <-l.slots }()
			l.handshake(raw)
		})
	}
}

// handshake runs one server handshake and queues the connection.
func (l *Listener) handshake(raw net.Conn) {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.HandshakeTimeout)
	defer cancel()
	tlsConn := tls.Server(raw, l.tc)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return
	}
	if checkALPN(l.tc, tlsConn.ConnectionState()) != nil {
		raw.Close()
		return
	}
	c, err := newConn(raw, tlsConn, false, l.cfg)
	if err != nil {
		raw.Close()
		return
	}
	select {
	case l.ready <- c:
	default:
		c.abort() // nobody is accepting
	}
}

// abort ends a connection without a word.
func (c *conn) abort() {
	c.setCloseErr(&transport.Cause{Kind: transport.ErrReset, Err: errors.New("connection refused")})
	c.sess.Close()
	<-c.done
}
