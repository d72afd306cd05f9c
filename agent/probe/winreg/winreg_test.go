package winreg

import (
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"testing"
	"unicode/utf16"
)

// utf16LE encodes s as regedit writes its exports: UTF-16LE after a
// byte-order mark.
func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := []byte{0xff, 0xfe}
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

func TestParseExport(t *testing.T) {
	text, err := os.ReadFile("testdata/uninstall.reg")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"utf-8": text, "utf-16": utf16LE(string(text))} {
		t.Run(name, func(t *testing.T) {
			e, err := ParseExport(b)
			if err != nil {
				t.Fatal(err)
			}
			const un = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`
			subs, err := e.Subkeys(un)
			if want := []string{"Mozilla Firefox 121.0 (x64 en-US)", "{23170F69-40C1-2702-2301-000001000000}"}; err != nil || !slices.Equal(subs, want) {
				t.Fatalf("subkeys %q, %v; want %q", subs, err, want)
			}
			// Lookups ignore case and take the long hive name.
			vs, err := e.Values(`HKEY_LOCAL_MACHINE\software\microsoft\windows\currentversion\uninstall\{23170f69-40c1-2702-2301-000001000000}`)
			if err != nil {
				t.Fatal(err)
			}
			for n, want := range map[string]string{
				"DisplayName": "7-Zip 23.01 (x64 edition)", "InstallLocation": `C:\Program Files\7-Zip\`,
				"EstimatedSize": "5646", "UninstallString": "MsiExec.exe /X", "Languages": "en-US; de-DE",
				"InstallTime": "116444736000000000", "": `default "quoted" value`, "Blob": "",
			} {
				if got := vs[n].Text(); got != want {
					t.Errorf("%q = %q, want %q", n, got, want)
				}
			}
			if vs["UninstallString"].Type != ExpandString || vs["Languages"].Type != MultiString || vs["InstallTime"].Type != QWord ||
				vs["EstimatedSize"].Type != DWord || !slices.Equal(vs["Blob"].Bytes, []byte{0xde, 0xad, 0xbe, 0xef}) {
				t.Errorf("types: %+v", vs)
			}
			// Intermediate keys exist, with their subkeys.
			if subs, err := e.Subkeys(`HKLM\SOFTWARE\Policies`); err != nil || !slices.Equal(subs, []string{"Microsoft"}) {
				t.Errorf("implicit key: %q, %v", subs, err)
			}
			if _, err := e.Values(`HKLM\SOFTWARE\Nothing`); !errors.Is(err, ErrNotExist) {
				t.Errorf("missing key: %v", err)
			}
			if _, err := e.Values(`HKXX\SOFTWARE`); err == nil || errors.Is(err, ErrNotExist) {
				t.Errorf("no hive: %v", err)
			}
		})
	}
}

func TestParseExportRefuses(t *testing.T) {
	for name, text := range map[string]string{
		"no header":       "[HKLM\\A]\n",
		"value first":     "REGEDIT4\n\"a\"=\"b\"\n",
		"deleted key":     "REGEDIT4\n[-HKLM\\A]\n",
		"deleted value":   "REGEDIT4\n[HKLM\\A]\n\"a\"=-\n",
		"bad dword":       "REGEDIT4\n[HKLM\\A]\n\"a\"=dword:xyz\n",
		"bad hex":         "REGEDIT4\n[HKLM\\A]\n\"a\"=hex:0g\n",
		"short qword":     "REGEDIT4\n[HKLM\\A]\n\"a\"=hex(b):00\n",
		"open string":     "REGEDIT4\n[HKLM\\A]\n\"a\"=\"b\n",
		"no hive":         "REGEDIT4\n[NOWHERE\\A]\n",
		"not utf-8":       "REGEDIT4\n[HKLM\\\xff]\n",
		"odd utf-16":      "\xff\xfeR",
		"text after data": "REGEDIT4\n[HKLM\\A]\n\"a\"=\"b\" junk\n",
	} {
		if _, err := ParseExport([]byte(text)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if _, err := ParseExport(make([]byte, MaxExport+1)); err == nil {
		t.Error("an export over the limit parsed")
	}
}

func TestLiveOffWindows(t *testing.T) {
	if _, err := Live().Values(`HKLM\SOFTWARE`); !errors.Is(err, ErrNotExist) {
		t.Errorf("Live on %s: %v", "this system", err)
	}
}

func FuzzParseExport(f *testing.F) {
	text, err := os.ReadFile("testdata/uninstall.reg")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(text)
	f.Add(utf16LE(string(text)))
	f.Add([]byte("REGEDIT4\n[HKLM\\A\\B]\n\"x\"=hex(7):41,00,00,00,00,00\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseExport(b)
		if err != nil {
			return
		}
		for path := range e.keys {
			if _, err := e.Values(path); err != nil {
				t.Fatalf("key %q listed but not readable: %v", path, err)
			}
			subs, err := e.Subkeys(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range subs {
				if _, err := e.Values(path + `\` + s); err != nil {
					t.Fatalf("subkey %q of %q not readable: %v", s, path, err)
				}
			}
		}
	})
}

func TestTexts(t *testing.T) {
	text, err := os.ReadFile("testdata/uninstall.reg")
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseExport(text)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Texts(e, `HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU`)
	if err != nil || len(got) != 1 || got["NoAutoUpdate"] != "0" {
		t.Errorf("Texts = %v, %v", got, err)
	}
	if _, err := Texts(e, `HKLM\SOFTWARE\Nothing`); !errors.Is(err, ErrNotExist) {
		t.Errorf("missing key: %v", err)
	}
}
