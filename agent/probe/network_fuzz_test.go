package probe

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unicode/utf8"
)

// FuzzSocketLink feeds parseSocketLink any link target, seeded with the
// fixtures' /proc/<pid>/fd links: it never panics, and an inode it
// returns is the one the target spells.
func FuzzSocketLink(f *testing.F) {
	links, _ := filepath.Glob(filepath.Join("testdata", "network", "*", "root", "proc", "*", "fd", "*"))
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil {
			f.Add([]byte(target))
		}
	}
	f.Add([]byte("socket:[]"))
	f.Add([]byte("socket:[18446744073709551616]"))
	f.Add([]byte("socket:[-1]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		inode, ok := parseSocketLink(b)
		if ok && string(b) != socketLinkPrefix+strconv.FormatUint(inode, 10)+"]" && b[len(socketLinkPrefix)] != '0' {
			t.Fatalf("parseSocketLink(%q) = %d", b, inode)
		}
	})
}

// FuzzSocketTable feeds a socket table's parser any bytes as each of
// Windows's four tables, seeded with the fixture's: it never panics,
// adds no more sockets than the bytes hold rows, adds none when it fails,
// and every address it adds prints as valid text.
func FuzzSocketTable(f *testing.F) {
	tables, err := hexTables(filepath.Join("testdata", "network", "windows"))
	if err != nil {
		f.Fatal(err)
	}
	for i, t := range tables {
		f.Add(t.data, uint8(i))
	}
	f.Add(binary.LittleEndian.AppendUint32(nil, 1<<31), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		protos := []string{"tcp", "tcp6", "udp", "udp6"}
		st := socketTable{proto: protos[int(kind)%len(protos)], data: data}
		listen, estab := newSockList(), newSockList()
		err := st.parse(listen, estab)
		n := len(listen.items) + len(estab.items)
		if err != nil && n > 0 {
			t.Fatalf("failed, yet added %d sockets", n)
		}
		if rows := max(len(data)-4, 0) / socketRowLen[st.proto]; n > rows {
			t.Fatalf("%d sockets from %d rows' worth of bytes", n, rows)
		}
		for _, l := range [][]sockEntry{listen.items, estab.items} {
			for i := range l {
				s := l[i].socket(nil)
				if !utf8.ValidString(s.Address) || !utf8.ValidString(s.RemoteAddress) || s.PID < 0 {
					t.Fatalf("%+v", s)
				}
			}
		}
	})
}

// FuzzSNMPValue feeds snmpValue any text, seeded with a real table: it
// never panics, and a value it returns is spelled in the text.
func FuzzSNMPValue(f *testing.F) {
	f.Add([]byte(snmpSample))
	f.Add([]byte("Tcp: CurrEstab\nTcp: 18446744073709551615\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, ok := snmpValue(b, "Tcp:", "CurrEstab"); ok && !bytes.Contains(b, []byte(strconv.FormatUint(v, 10))) {
			t.Fatalf("%d is not in %q", v, b)
		}
	})
}
