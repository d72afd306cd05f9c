package probe

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
)

// socketTable is one of Windows's owner-PID socket tables as
// GetExtendedTcpTable (TCP_TABLE_OWNER_PID_ALL) or GetExtendedUdpTable
// (UDP_TABLE_OWNER_PID) fill it: a DWORD row count, then the rows. The
// Windows file only fetches the bytes; they are parsed here, on every
// platform, so that tests feed recorded tables.
type socketTable struct {
	proto string // tcp, tcp6, udp, udp6
	data  []byte
}

// socketRowLen is the size of a row of each table: MIB_TCPROW_OWNER_PID,
// MIB_TCP6ROW_OWNER_PID, MIB_UDPROW_OWNER_PID, MIB_UDP6ROW_OWNER_PID.
var socketRowLen = map[string]int{"tcp": 24, "tcp6": 56, "udp": 12, "udp6": 28}

// MIB_TCP_STATE values of the sockets reported.
const (
	mibTCPListen      = 2
	mibTCPEstablished = 5
	mibTCPCloseWait   = 8
)

// parse adds the table's listening TCP and bound UDP sockets to listen and
// its established TCP connections to estab, each with its owner's PID. A
// table whose rows do not fit its bytes adds nothing.
//
// DWORDs are little-endian; addresses are in network order, and a port is
// the low 16 bits of its DWORD in network order.
func (t socketTable) parse(listen, estab *sockList) error {
	rowLen := socketRowLen[t.proto]
	if rowLen == 0 {
		return fmt.Errorf("unknown socket table %q", t.proto)
	}
	if len(t.data) < 4 {
		return fmt.Errorf("the %s socket table has no row count (%d bytes)", t.proto, len(t.data))
	}
	n := uint64(binary.LittleEndian.Uint32(t.data))
	rows := t.data[4:]
	if n*uint64(rowLen) > uint64(len(rows)) {
		return fmt.Errorf("the %s socket table's %d rows do not fit in its %d bytes", t.proto, n, len(t.data))
	}
	for i := range int(n) {
		r := rows[i*rowLen : (i+1)*rowLen]
		var e sockEntry
		var state uint32
		var pid uint32
		switch t.proto {
		case "tcp": // state, local addr, local port, remote addr, remote port, pid
			state, pid = le32(r[0:]), le32(r[20:])
			e.local, e.remote = tableAddr(r[4:8], r[8:]), tableAddr(r[12:16], r[16:])
		case "tcp6": // local addr, scope, port, remote addr, scope, port, state, pid
			state, pid = le32(r[48:]), le32(r[52:])
			e.local, e.remote = tableAddr(r[0:16], r[20:]), tableAddr(r[24:40], r[44:])
		case "udp": // local addr, local port, pid
			pid = le32(r[8:])
			e.local = tableAddr(r[0:4], r[4:])
		case "udp6": // local addr, scope, port, pid
			pid = le32(r[24:])
			e.local = tableAddr(r[0:16], r[20:])
		}
		e.proto = t.proto
		if pid <= math.MaxInt32 {
			e.pid = int32(pid)
		}
		switch {
		case t.proto[0] == 'u':
			listen.add(e)
		case state == mibTCPListen:
			e.remote = netip.AddrPort{}
			listen.add(e)
		case state == mibTCPEstablished, state == mibTCPCloseWait:
			estab.add(e)
		}
	}
	return nil
}

// tableAddr decodes an address of 4 or 16 bytes and the port at the start
// of port.
func tableAddr(addr, port []byte) netip.AddrPort {
	a, _ := netip.AddrFromSlice(addr)
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(port))
}

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
