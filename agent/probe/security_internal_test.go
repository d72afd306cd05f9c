package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fakeNFT answers every dump with the same bytes, or fails.
type fakeNFT struct {
	b   []byte
	err error
}

func (f fakeNFT) Dump(context.Context, uint8) ([]byte, error) { return f.b, f.err }

// TestFirewallVerdicts checks how the firewall signals are weighed when
// they disagree or are missing.
func TestFirewallVerdicts(t *testing.T) {
	empty := fakeNFT{} // a readable, empty ruleset
	unreadable := fakeNFT{err: errors.New("netlink socket: protocol not supported")}
	for _, tc := range []struct {
		name   string
		nft    nftSource
		files  map[string]string
		active *bool
	}{
		{"nothing", empty, nil, pointerTo(false)},
		{"ufw enabled, nothing loaded", empty, map[string]string{"etc/ufw/ufw.conf": "ENABLED=yes\n"}, pointerTo(false)},
		{"ufw enabled, ruleset unreadable", unreadable, map[string]string{"etc/ufw/ufw.conf": "ENABLED=yes\n"}, pointerTo(true)},
		{"ufw disabled, ruleset unreadable", unreadable, map[string]string{"etc/ufw/ufw.conf": "ENABLED=no\n"}, nil},
		{"legacy filter table", empty, map[string]string{"proc/net/ip_tables_names": "nat\nfilter\n"}, nil},
		{"legacy nat table only", empty, map[string]string{"proc/net/ip_tables_names": "nat\n"}, pointerTo(false)},
		{"firewalld running", empty, map[string]string{"run/firewalld.pid": "812\n", "proc/812/comm": "firewalld\n"}, pointerTo(true)},
		{"firewalld pid file left behind", empty, map[string]string{"run/firewalld.pid": "812\n", "proc/812/comm": "bash\n"}, pointerTo(false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p := &securityProbe{nft: tc.nft}
			f, _ := p.linuxFirewall(WithRoot(context.Background(), root))
			if (f.Active == nil) != (tc.active == nil) || f.Active != nil && *f.Active != *tc.active || f.Why == "" {
				t.Errorf("active %v (%s), want %v", boolOrNil(f.Active), f.Why, boolOrNil(tc.active))
			}
		})
	}
}

func boolOrNil(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// TestSecureBootVariants checks the old sysfs efivars, a firmware without
// Secure Boot and efivarfs not mounted.
func TestSecureBootVariants(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string][]byte
		enabled any
	}{
		{"old sysfs", map[string][]byte{"vars/SecureBoot-" + efiGlobal + "/data": {1}}, true},
		{"no SecureBoot variable", map[string][]byte{"efivars/BootCurrent-" + efiGlobal: {6, 0, 0, 0, 1, 0}}, false},
		{"efivarfs not mounted", map[string][]byte{"efivars/.keep": nil}, nil},
		{"bad value", map[string][]byte{"efivars/SecureBoot-" + efiGlobal: {6, 0, 0, 0, 7}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, b := range tc.files {
				p := filepath.Join(root, "sys", "firmware", "efi", name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, _ := linuxSecureBoot(WithRoot(context.Background(), root))
			if s.Boot != "uefi" || boolOrNil(s.Enabled) != tc.enabled || s.Enabled == nil && s.Why == "" {
				t.Errorf("%+v, want enabled %v", s, tc.enabled)
			}
		})
	}
}

// genNFT is a ruleset source that reports its generation and counts its
// dumps.
type genNFT struct {
	gen    uint32
	genErr error
	dumps  int
}

func (f *genNFT) Dump(context.Context, uint8) ([]byte, error) { f.dumps++; return nil, nil }

func (f *genNFT) Gen(context.Context) ([]byte, error) {
	if f.genErr != nil {
		return nil, f.genErr
	}
	return nftGenAnswer(f.gen), nil
}

// nftGenAnswer is the kernel's NFT_MSG_NEWGEN answer for generation gen.
func nftGenAnswer(gen uint32) []byte {
	b := make([]byte, 16+nfgenmsgLen+8)
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], nfnlSubsysNFTables<<8|nftMsgNewGen)
	binary.NativeEndian.PutUint16(b[16+nfgenmsgLen:], 8)
	binary.NativeEndian.PutUint16(b[16+nfgenmsgLen+2:], nftaGenID)
	binary.BigEndian.PutUint32(b[16+nfgenmsgLen+4:], gen)
	return b
}

// TestNFTablesGeneration: the ruleset is dumped again only when the
// kernel reports another generation than before the last dumps, and at
// every call where the generation cannot be read.
func TestNFTablesGeneration(t *testing.T) {
	src := &genNFT{gen: 7}
	p := &securityProbe{nft: src}
	ctx := context.Background()
	first, err := p.nftables(ctx)
	if err != nil || src.dumps != 3 {
		t.Fatalf("first call: %d dumps, %v", src.dumps, err)
	}
	if again, err := p.nftables(ctx); err != nil || again != first || src.dumps != 3 {
		t.Fatalf("same generation: %d dumps, %v", src.dumps, err)
	}
	src.gen = 8
	if again, err := p.nftables(ctx); err != nil || again == first || src.dumps != 6 {
		t.Fatalf("a new generation: %d dumps, %v", src.dumps, err)
	}
	src.genErr = errors.New("refused")
	for i := range 2 {
		if _, err := p.nftables(ctx); err != nil || src.dumps != 9+3*i {
			t.Fatalf("no generation, call %d: %d dumps, %v", i+1, src.dumps, err)
		}
	}
}

// TestParseNFTGen reads the generation out of the kernel's answer, and
// fails on an answer without one.
func TestParseNFTGen(t *testing.T) {
	if gen, err := parseNFTGen(nftGenAnswer(0x01020304)); err != nil || gen != 0x01020304 {
		t.Errorf("gen %#x, %v", gen, err)
	}
	refused := make([]byte, 20)
	binary.NativeEndian.PutUint32(refused, 20)
	binary.NativeEndian.PutUint16(refused[4:], nlmsgError)
	binary.NativeEndian.PutUint32(refused[16:], uint32(0x100000000-1)) // -EPERM
	for _, b := range [][]byte{nil, refused, nftGenAnswer(1)[:16+nfgenmsgLen]} {
		if gen, err := parseNFTGen(b); err == nil {
			t.Errorf("% x: gen %d, no error", b, gen)
		}
	}
}
