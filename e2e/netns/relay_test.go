//go:build linux

package netns

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"
)

// echo serves a UDP echo on loopback until the test ends.
func echo(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			c.WriteToUDP(buf[:n], from)
		}
	}()
	return c
}

func dial(t *testing.T, r *Relay) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg and returns the answer and how long it took.
func roundTrip(t *testing.T, c *net.UDPConn, msg string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no answer to %q: %v", msg, err)
	}
	return string(buf[:n]), time.Since(start)
}

func TestRelay(t *testing.T) {
	before := runtime.NumGoroutine()
	target := echo(t)
	r, err := NewRelay(nil, "127.0.0.1:0", target.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	t.Run("delivers", func(t *testing.T) {
		c := dial(t, r)
		if got, _ := roundTrip(t, c, "hello"); got != "hello" {
			t.Fatalf("echo gave %q", got)
		}
		// A second client gets its own upstream socket.
		if got, _ := roundTrip(t, dial(t, r), "other"); got != "other" {
			t.Fatalf("echo gave %q", got)
		}
		if n := r.Clients(); n != 2 || len(r.ClientAddrs()) != 2 {
			t.Fatalf("%d clients (%v), want 2", n, r.ClientAddrs())
		}
	})

	t.Run("delays", func(t *testing.T) {
		c := dial(t, r)
		roundTrip(t, c, "warm-up")
		const d = 100 * time.Millisecond
		r.SetDelay(d)
		defer r.SetDelay(0)
		fastest := time.Hour
		for i := range 5 {
			_, took := roundTrip(t, c, fmt.Sprint(i))
			// The delay applies each way.
			if took < 2*d {
				t.Fatalf("round trip took %s with %s each way", took, d)
			}
			fastest = min(fastest, took)
		}
		// The fastest of a few, for a busy machine.
		if fastest > 2*d+100*time.Millisecond {
			t.Fatalf("the fastest round trip took %s with %s each way", fastest, d)
		}
	})

	t.Run("delays each datagram on its own", func(t *testing.T) {
		// A link with a fixed delay: a burst arrives one delay later, as a
		// burst, not one delay after another.
		c := dial(t, r)
		roundTrip(t, c, "warm-up")
		const d, n = 200 * time.Millisecond, 30
		r.SetDelay(d / 2) // each way
		defer r.SetDelay(0)
		// The relay counts a datagram once it has sent it on, which can be
		// after the client has it: wait for the warm-up's echo to be
		// counted, so that the counts below are the burst's alone.
		settled := func(want int64) (up, down Traffic) {
			for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
				up, down = r.Traffic()
				if down.Datagrams >= want || time.Now().After(deadline) {
					return up, down
				}
			}
		}
		up0, _ := r.Traffic()
		up0, down0 := settled(up0.Datagrams)
		start := time.Now()
		for i := range n {
			c.Write([]byte(fmt.Sprint(i)))
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		var first, last time.Duration
		for i := range n {
			if _, err := c.Read(buf); err != nil {
				t.Fatalf("datagram %d: %v", i, err)
			}
			last = time.Since(start)
			if i == 0 {
				first = last
			}
		}
		if first < d {
			t.Fatalf("the first datagram came back after %s with %s each way", first, d/2)
		}
		// Generous for a busy machine, and far below n round trips.
		if last > d+300*time.Millisecond {
			t.Fatalf("%d datagrams sent at once came back over %s, the first after %s, with %s each way", n, last, first, d/2)
		}
		up1, down1 := settled(down0.Datagrams + n)
		if got := up1.Sub(up0); got.Datagrams != n || got.Bytes != int64(len("0123456789"))+2*(n-10) {
			t.Fatalf("the relay counted %s up, want %d datagrams", got, n)
		}
		if got := down1.Sub(down0); got.Datagrams != n {
			t.Fatalf("the relay counted %s down, want %d datagrams", got, n)
		}
		if dropped := r.Dropped(); dropped != 0 {
			t.Fatalf("the relay dropped %d datagrams", dropped)
		}
	})

	t.Run("keeps order", func(t *testing.T) {
		c := dial(t, r)
		r.SetDelay(200 * time.Millisecond)
		defer r.SetDelay(0)
		const n = 50
		for i := range n {
			if i == n/2 {
				// Shrinking the delay must not let later datagrams overtake.
				r.SetDelay(0)
			}
			c.Write([]byte(fmt.Sprint(i)))
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		for i := range n {
			m, err := c.Read(buf)
			if err != nil {
				t.Fatalf("datagram %d: %v", i, err)
			}
			if got := string(buf[:m]); got != fmt.Sprint(i) {
				t.Fatalf("datagram %d came as %q", i, got)
			}
		}
	})

	t.Run("jitter reorders", func(t *testing.T) {
		c := dial(t, r)
		r.SetJitter(50 * time.Millisecond)
		defer r.SetJitter(0)
		const n = 100
		for i := range n {
			c.Write([]byte(fmt.Sprint(i)))
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		inOrder := true
		for i := range n {
			m, err := c.Read(buf)
			if err != nil {
				t.Fatalf("datagram %d: %v", i, err)
			}
			inOrder = inOrder && string(buf[:m]) == fmt.Sprint(i)
		}
		if inOrder {
			t.Fatal("100 datagrams with up to 50 ms of jitter each all came in order")
		}
	})

	t.Run("closes", func(t *testing.T) {
		c := dial(t, r)
		r.SetDelay(time.Second) // datagrams still queued must not hold Close up
		c.Write([]byte("pending"))
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Fatalf("Close took %s", took)
		}
		r.Close() // twice is fine
		// Only the echo server's goroutine and this subtest's may remain.
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before+2 {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(),
					buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
