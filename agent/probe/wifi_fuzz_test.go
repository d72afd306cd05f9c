package probe

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds adds the files matching pattern to f's corpus, decoding .hex
// ones.
func fuzzSeeds(f *testing.F, pattern string) {
	paths, _ := filepath.Glob(pattern)
	if len(paths) == 0 {
		f.Fatalf("no seeds match %s", pattern)
	}
	for _, p := range paths {
		var b []byte
		var err error
		if filepath.Ext(p) == ".hex" {
			b, err = ReadHex(p)
		} else {
			b, err = os.ReadFile(p)
		}
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkWifi checks the bounds every parser of Wi-Fi data keeps.
func checkWifi(t *testing.T, ifs []WifiInterface) {
	if len(ifs) > maxWifi {
		t.Fatalf("%d interfaces", len(ifs))
	}
	for _, w := range ifs {
		for _, s := range []string{w.Name, w.SSID, w.State, w.Band, w.PHYMode, w.Security} {
			if !utf8.ValidString(s) || len(s) > 128 {
				t.Fatalf("unbounded or invalid string %q", s)
			}
		}
	}
}

func FuzzNL80211(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "wifi", "*", "nl80211", "*.hex"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ifs, _ := parseNL80211Interfaces(b)
		if len(ifs) > 256 {
			t.Fatalf("%d interfaces", len(ifs))
		}
		for _, ifc := range ifs {
			if len(ifc.SSID) > 32 || !utf8.ValidString(ifc.Name) {
				t.Fatalf("interface %+v", ifc)
			}
		}
		sts, _ := parseNL80211Stations(b)
		if len(sts) > 256*maxNetlinkAttrs {
			t.Fatalf("%d stations", len(sts))
		}
		genlFamilyID(b)
	})
}

func FuzzProcWireless(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "wifi", "*", "root", "proc", "net", "wireless"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := parseProcWireless(b)
		if len(m) > maxWifi {
			t.Fatalf("%d interfaces", len(m))
		}
		for name, pw := range m {
			if !utf8.ValidString(name) || pw.Level != nil && (*pw.Level >= 0 || *pw.Level < -256) {
				t.Fatalf("%q: %+v", name, pw)
			}
		}
	})
}

func FuzzNetshWlan(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "wifi", "windows", "netsh.txt"))
	f.Fuzz(func(t *testing.T, b []byte) { checkWifi(t, parseNetshWlan(b)) })
}

func FuzzAirPort(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "wifi", "macos", "system_profiler.json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ifs, _ := parseAirPort(b)
		checkWifi(t, ifs)
	})
}
