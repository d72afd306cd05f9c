//go:build linux

package netns

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Relay forwards UDP datagrams between clients and one target, adding a
// delay, as a slow link would. Each client (source address) gets its own
// upstream socket, so the target sees one address per client, and a new
// one when a client's address changes, as behind a NAT.
type Relay struct {
	ln     *net.UDPConn
	target *net.UDPAddr
	ns     *NS

	delay  atomic.Int64 // one-way, nanoseconds
	jitter atomic.Int64
	late   atomic.Int64 // the most a datagram left after it was due, ns
	sent   atomic.Int64
	up     tally        // towards the target
	down   tally        // towards the clients
	drops  atomic.Int64 // datagrams dropped for a full queue

	mu      sync.Mutex
	clients map[string]*relayClient
	closed  bool

	done chan struct{}
	wg   sync.WaitGroup
}

// relayIdle is how long a client may be silent before its upstream socket
// is closed.
const relayIdle = 2 * time.Minute

// maxQueue bounds the datagrams waiting in each direction of each client;
// more are dropped, as by a full router queue.
const maxQueue = 10000

type relayClient struct {
	addr     *net.UDPAddr
	up       *net.UDPConn // connected to the target
	toTarget *line
	toClient *line
	lastSeen atomic.Int64 // unix ns
}

// NewRelay listens on the UDP address listen and forwards to target. The
// listening socket and every upstream socket are made in ns, or in the
// current namespace when ns is nil. Close stops it.
func NewRelay(ns *NS, listen, target string) (*Relay, error) {
	la, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return nil, fmt.Errorf("relay: resolving %s: %w", listen, err)
	}
	ta, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, fmt.Errorf("relay: resolving %s: %w", target, err)
	}
	r := &Relay{target: ta, ns: ns, clients: map[string]*relayClient{}, done: make(chan struct{})}
	err = r.in(func() error {
		var lerr error
		r.ln, lerr = net.ListenUDP("udp", la)
		if lerr != nil {
			return fmt.Errorf("relay: listening on %s: %w", listen, lerr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.wg.Add(2)
	go r.serve()
	go r.expire()
	return r, nil
}

// in runs fn in the relay's namespace.
func (r *Relay) in(fn func() error) error {
	if r.ns == nil {
		return fn()
	}
	return Do(r.ns, fn)
}

// Addr is the address the relay listens on.
func (r *Relay) Addr() *net.UDPAddr { return r.ln.LocalAddr().(*net.UDPAddr) }

// SetDelay sets the delay added to every datagram in each direction, so a
// round trip grows by twice d. Each datagram leaves at its arrival plus d,
// whatever else is queued: a burst keeps its spacing, it is not spread out
// one d apart, and nothing else limits the rate. Datagrams keep their
// order: one never overtakes another of the same client and direction,
// even when the delay shrinks. Safe to call at any time.
func (r *Relay) SetDelay(d time.Duration) { r.delay.Store(int64(d)) }

// Delay is the delay added each way, as last set.
func (r *Relay) Delay() time.Duration { return time.Duration(r.delay.Load()) }

// SetJitter adds to each datagram's delay a random extra of up to j, and
// lets datagrams overtake each other as a result.
func (r *Relay) SetJitter(j time.Duration) { r.jitter.Store(int64(j)) }

// Clients is the number of client addresses the relay currently serves.
func (r *Relay) Clients() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.clients)
}

// Stats returns the datagrams forwarded so far, both ways, and the most any
// left after it was due (a relay that falls behind would show here),
// and resets the latter.
func (r *Relay) Stats() (sent int64, late time.Duration) {
	return r.sent.Load(), time.Duration(r.late.Swap(0))
}

// Traffic is what a relay forwarded in one direction.
type Traffic struct {
	Datagrams, Bytes int64
}

// Sub returns the traffic since an earlier reading.
func (t Traffic) Sub(earlier Traffic) Traffic {
	return Traffic{t.Datagrams - earlier.Datagrams, t.Bytes - earlier.Bytes}
}

func (t Traffic) String() string {
	return fmt.Sprintf("%d datagrams, %d bytes", t.Datagrams, t.Bytes)
}

type tally struct{ datagrams, bytes atomic.Int64 }

func (c *tally) add(n int) {
	c.datagrams.Add(1)
	c.bytes.Add(int64(n))
}

func (c *tally) load() Traffic { return Traffic{c.datagrams.Load(), c.bytes.Load()} }

// Traffic returns the datagrams and bytes forwarded so far towards the
// target (up) and towards the clients (down).
func (r *Relay) Traffic() (up, down Traffic) { return r.up.load(), r.down.load() }

// Dropped is the number of datagrams dropped so far because a queue was
// full (see maxQueue).
func (r *Relay) Dropped() int64 { return r.drops.Load() }

// ClientAddrs lists the client addresses the relay currently serves.
func (r *Relay) ClientAddrs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k := range r.clients {
		out = append(out, k)
	}
	return out
}

// Close stops the relay, closes its sockets and waits for its goroutines.
// Datagrams still delayed are dropped.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	err := r.ln.Close()
	for _, c := range r.clients {
		c.up.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	if err != nil {
		return fmt.Errorf("closing the relay: %w", err)
	}
	return nil
}

// due returns when a datagram received now leaves.
func (r *Relay) due(now time.Time) (time.Time, bool) {
	d := time.Duration(r.delay.Load())
	j := time.Duration(r.jitter.Load())
	if j > 0 {
		d += time.Duration(rand.Int64N(int64(j) + 1))
	}
	return now.Add(d), j > 0
}

// serve reads from clients and queues their datagrams towards the target.
func (r *Relay) serve() {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := r.ln.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		c, err := r.client(from)
		if err != nil || c == nil {
			continue
		}
		c.lastSeen.Store(time.Now().UnixNano())
		c.toTarget.push(append([]byte(nil), buf[:n]...))
	}
}

// client returns the state of the client at from, making it on first
// sight. It returns nil once the relay is closed.
func (r *Relay) client(from *net.UDPAddr) (*relayClient, error) {
	key := from.String()
	r.mu.Lock()
	c := r.clients[key]
	closed := r.closed
	r.mu.Unlock()
	if c != nil || closed {
		return c, nil
	}
	var up *net.UDPConn
	err := r.in(func() error {
		var err error
		up, err = net.DialUDP("udp", nil, r.target)
		if err != nil {
			return fmt.Errorf("relay: dialing %s: %w", r.target, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c = &relayClient{addr: from, up: up}
	c.toTarget = newLine(r, func(b []byte) { up.Write(b); r.up.add(len(b)) })
	c.toClient = newLine(r, func(b []byte) { r.ln.WriteToUDP(b, from); r.down.add(len(b)) })
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		up.Close()
		return nil, nil
	}
	r.clients[key] = c
	r.wg.Add(3)
	r.mu.Unlock()
	go func() { defer r.wg.Done(); c.toTarget.run(r.done) }()
	go func() { defer r.wg.Done(); c.toClient.run(r.done) }()
	go func() { defer r.wg.Done(); r.back(c) }()
	return c, nil
}

// back reads the target's answers to one client and queues them.
func (r *Relay) back(c *relayClient) {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.up.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP errors (target not listening) show up here: go on.
			select {
			case <-r.done:
				return
			case <-c.toClient.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		c.toClient.push(append([]byte(nil), buf[:n]...))
	}
}

// expire forgets clients silent for relayIdle.
func (r *Relay) expire() {
	defer r.wg.Done()
	tick := time.NewTicker(relayIdle / 4)
	defer tick.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-tick.C:
		}
		cutoff := time.Now().Add(-relayIdle).UnixNano()
		r.mu.Lock()
		for k, c := range r.clients {
			if c.lastSeen.Load() < cutoff {
				delete(r.clients, k)
				c.up.Close()
				c.toTarget.stop()
				c.toClient.stop()
			}
		}
		r.mu.Unlock()
	}
}

// line is one direction of one client: datagrams wait in it until due.
type line struct {
	r    *Relay
	send func([]byte)

	mu   sync.Mutex
	q    pktHeap
	seq  uint64
	last time.Time // due time of the newest datagram, to keep order
	wake chan struct{}
	done chan struct{}
	once sync.Once
}

func newLine(r *Relay, send func([]byte)) *line {
	return &line{r: r, send: send, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (l *line) stop() { l.once.Do(func() { close(l.done) }) }

func (l *line) push(b []byte) {
	due, reorder := l.r.due(time.Now())
	l.mu.Lock()
	if len(l.q) >= maxQueue {
		l.mu.Unlock()
		l.r.drops.Add(1)
		return
	}
	if !reorder && due.Before(l.last) {
		due = l.last
	}
	l.last = due
	l.seq++
	heap.Push(&l.q, pkt{due: due, seq: l.seq, b: b})
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run sends the datagrams when due until done or the line stops.
func (l *line) run(done chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		l.mu.Lock()
		var wait time.Duration = -1
		var p pkt
		popped := false
		if len(l.q) > 0 {
			if wait = time.Until(l.q[0].due); wait <= 0 {
				p, popped = heap.Pop(&l.q).(pkt), true
			}
		}
		l.mu.Unlock()
		if popped {
			if late := time.Since(p.due); late > time.Duration(l.r.late.Load()) {
				l.r.late.Store(int64(late))
			}
			l.send(p.b)
			l.r.sent.Add(1)
			continue
		}
		var tc <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			tc = timer.C
		}
		select {
		case <-done:
			return
		case <-l.done:
			return
		case <-l.wake:
		case <-tc:
		}
		timer.Stop()
	}
}

type pkt struct {
	due time.Time
	seq uint64
	b   []byte
}

// pktHeap orders datagrams by due time, then arrival.
type pktHeap []pkt

func (h pktHeap) Len() int { return len(h) }
func (h pktHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h pktHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pktHeap) Push(x any)   { *h = append(*h, x.(pkt)) }
func (h *pktHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	*h = old[:len(old)-1]
	return p
}
