package windows

import (
	"strings"
	"testing"
)

func TestProductVersion(t *testing.T) {
	for in, want := range map[string]string{
		"0.4.0":                    "0.4.0",
		"1.2.3~dev.12.g1a2b3c4":    "1.2.3.12",
		"0.0.0~dev.380.gcc4445b":   "0.0.0.380",
		"0.5.0-rc.1":               "0.5.0",
		"255.255.65535":            "255.255.65535",
		"2.0.0+build.7~dev.1.gabc": "2.0.0.1",
	} {
		if got, err := productVersion(in); err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"1.2":                 "want MAJOR.MINOR.PATCH",
		"dev":                 "want MAJOR.MINOR.PATCH",
		"256.0.0":             "up to 255",
		"1.2.65536":           "up to 65535",
		"1.02.3":              "up to 255",
		"1.x.3":               "up to 255",
		"1.2.3~dev.70000.gab": "~dev.N with N up to 65535",
		"1.2.3~dev.x":         "~dev.N",
	} {
		if _, err := productVersion(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", in, err, msg)
		}
	}
}
