package probe

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestSockListBounds: a list holds up to its bound and counts the rest;
// bounded keeps the first n by protocol, port and address, and counts
// both what it cut and what was never held as left off.
func TestSockListBounds(t *testing.T) {
	l := &sockList{max: 20}
	for i := range 25 {
		port := uint16(1000 - i) // held in reverse order
		l.add(sockEntry{proto: "tcp", local: netip.AddrPortFrom(netip.IPv4Unspecified(), port), inode: uint64(i)})
	}
	if len(l.items) != 20 || l.more != 5 {
		t.Fatalf("held %d, more %d", len(l.items), l.more)
	}
	l.add(sockEntry{proto: "tcp6", local: netip.AddrPortFrom(netip.IPv6Unspecified(), 1)})
	kept, left := l.bounded(10)
	if len(kept) != 10 || left != 16 {
		t.Fatalf("kept %d, left %d", len(kept), left)
	}
	for i, e := range kept {
		if want := uint16(981 + i); e.proto != "tcp" || e.local.Port() != want {
			t.Errorf("kept[%d] = %s :%d, want tcp :%d", i, e.proto, e.local.Port(), want)
		}
	}
	l.reset()
	if kept, left := l.bounded(10); len(kept) != 0 || left != 0 {
		t.Errorf("after reset: %d kept, %d left", len(kept), left)
	}
}

// TestNoSocketsHere: where the system lists sockets only through a tool
// (macOS), the probe lists none and says why, rather than an empty list.
func TestNoSocketsHere(t *testing.T) {
	p := &networkProbe{interfaces: func() ([]NetworkInterface, error) { return nil, nil }, now: time.Now}
	v, err := p.Collect(WithRoot(context.Background(), t.TempDir()), &Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*NetworkResult)
	if r.Listening != nil || r.Established != nil || !strings.Contains(r.OwnersNote, "not available here") || len(r.Errors) != 0 {
		t.Errorf("listening %v, established %v, note %q, errors %q", r.Listening, r.Established, r.OwnersNote, r.Errors)
	}
}

// snmpSample is the head of a /proc/net/snmp (Linux 6.18).
const snmpSample = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 2207436
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 75233 52181 22384 778 7 814737 807516 780 0 23112 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 5 0 0 5 0 0 0 0 0
`

// TestSNMPValue reads a field of a /proc/net/snmp table, and refuses a
// table without it, a table cut short and a value that is not a number.
func TestSNMPValue(t *testing.T) {
	for _, c := range []struct {
		text, prefix, field string
		want                uint64
		ok                  bool
	}{
		{snmpSample, "Tcp:", "CurrEstab", 7, true},
		{snmpSample, "Tcp:", "RtoAlgorithm", 1, true},
		{snmpSample, "Udp:", "MemErrors", 0, true},
		{snmpSample, "Tcp:", "MaxConn", 0, false},
		{snmpSample, "Tcp:", "Nothing", 0, false},
		{snmpSample, "Icmp:", "InMsgs", 0, false},
		{"Tcp: A CurrEstab\nTcp: 1\n", "Tcp:", "CurrEstab", 0, false},
		{"Tcp: A CurrEstab\n", "Tcp:", "CurrEstab", 0, false},
		{"", "Tcp:", "CurrEstab", 0, false},
	} {
		if got, ok := snmpValue([]byte(c.text), c.prefix, c.field); got != c.want || ok != c.ok {
			t.Errorf("%s %s in %.30q: %d, %v; want %d, %v", c.prefix, c.field, c.text, got, ok, c.want, c.ok)
		}
	}
}
