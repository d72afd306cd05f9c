//go:build windows

package probe

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	iphlpapi                = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTcpTable = iphlpapi.NewProc("GetExtendedTcpTable")
	procGetExtendedUdpTable = iphlpapi.NewProc("GetExtendedUdpTable")
)

const (
	// Table classes: TCP_TABLE_OWNER_PID_ALL, UDP_TABLE_OWNER_PID.
	tcpTableOwnerPIDAll = 5
	udpTableOwnerPID    = 1
	// maxSocketTableLen bounds one table: 64 MiB holds over two million
	// TCP rows.
	maxSocketTableLen = 64 << 20
)

// hostSocketTables reads the owner-PID socket tables; network_tables.go
// parses them.
var hostSocketTables = readSocketTables

// readSocketTables reads the TCP and UDP tables of both families.
func readSocketTables() ([]socketTable, error) {
	var out []socketTable
	for _, t := range [...]struct {
		proto         string
		proc          *windows.LazyProc
		family, class uintptr
	}{
		{"tcp", procGetExtendedTcpTable, windows.AF_INET, tcpTableOwnerPIDAll},
		{"tcp6", procGetExtendedTcpTable, windows.AF_INET6, tcpTableOwnerPIDAll},
		{"udp", procGetExtendedUdpTable, windows.AF_INET, udpTableOwnerPID},
		{"udp6", procGetExtendedUdpTable, windows.AF_INET6, udpTableOwnerPID},
	} {
		b, err := readSocketTable(t.proc, t.family, t.class)
		if err != nil {
			return out, fmt.Errorf("reading the %s socket table: %w", t.proto, err)
		}
		out = append(out, socketTable{proto: t.proto, data: b})
	}
	return out, nil
}

// readSocketTable calls proc until its buffer is large enough: the table
// may grow between the call that sizes it and the next.
func readSocketTable(proc *windows.LazyProc, family, class uintptr) ([]byte, error) {
	if err := proc.Find(); err != nil {
		return nil, err
	}
	size := uint32(16 << 10)
	for range 5 {
		buf := make([]byte, size)
		r, _, _ := proc.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0, family, class, 0)
		switch windows.Errno(r) {
		case windows.ERROR_SUCCESS:
			return buf, nil
		case windows.ERROR_INSUFFICIENT_BUFFER:
			if size > maxSocketTableLen {
				return nil, fmt.Errorf("larger than %d bytes", maxSocketTableLen)
			}
			size += size / 8
		default:
			return nil, windows.Errno(r)
		}
	}
	return nil, fmt.Errorf("the table kept growing")
}
