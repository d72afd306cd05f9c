package probe

import (
	"path/filepath"
	"testing"
	"unicode/utf8"
)

func FuzzEFIVar(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "security", "*", "root", "sys", "firmware", "efi", "efivars", "*"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseEFIBool(b)
		if err == nil && (len(b) != 5 || b[4] > 1 || v != (b[4] == 1)) {
			t.Fatalf("%x read as %v", b, v)
		}
	})
}

func FuzzNFT(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "security", "*", "nftables", "*.hex"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// One input plays the three dumps: each parse takes the messages
		// of its own type.
		n, err := parseNFT(b, b, b)
		if err != nil {
			return
		}
		if len(n.Tables) > maxNFTTables {
			t.Fatalf("%d tables", len(n.Tables))
		}
		sum := 0
		for _, tb := range n.Tables {
			sum += tb.Rules
			if !utf8.ValidString(tb.Name) || len(tb.BaseChains) > 16 {
				t.Fatalf("table %+v", tb)
			}
		}
		if sum != n.Rules {
			t.Fatalf("tables hold %d rules, total %d", sum, n.Rules)
		}
	})
}

func FuzzMountinfo(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "security", "*", "root", "proc", "self", "mountinfo"))
	f.Fuzz(func(t *testing.T, b []byte) { rootMount(b) })
}

func FuzzSecurityTools(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "security", "windows", "manage-bde.txt"))
	fuzzSeeds(f, filepath.Join("testdata", "security", "macos", "*.txt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, d := range []*DiskEncryption{parseManageBDE(b, "C:"), parseFDESetup(b)} {
			if !utf8.ValidString(d.Status) || len(d.Status) > 128 {
				t.Fatalf("status %q", d.Status)
			}
		}
		parseSocketFilterFW(b)
		if s := parseCSRUtil(b); !utf8.ValidString(s) || len(s) > 32 {
			t.Fatalf("SIP %q", s)
		}
		if u := parseSoftwareUpdate(b); len(u.Settings) > 5 {
			t.Fatalf("settings %v", u.Settings)
		}
	})
}
