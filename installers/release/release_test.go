package release

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFromDescribe(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3-0-gabcdef0":      "1.2.3",
		"v1.2.3-4-gabcdef0":      "1.2.3~dev.4.gabcdef0",
		"v1.2.3-rc1-12-g0123456": "1.2.3-rc1~dev.12.g0123456",
	} {
		if got, err := fromDescribe(in); err != nil || got != want {
			t.Errorf("fromDescribe(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abcdef0", "v1-x-gabc", "-3-gabc", "v1.2.3-4-g"} {
		if got, err := fromDescribe(bad); err == nil {
			t.Errorf("fromDescribe(%q) = %q, want an error", bad, got)
		}
	}
}

func TestVersionAndEpochFromEnvironment(t *testing.T) {
	t.Setenv("SONDE_VERSION", "v2.0.1")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if v, err := Version(context.Background(), t.TempDir()); err != nil || v != "2.0.1" {
		t.Errorf("Version = %q, %v", v, err)
	}
	if e, err := Epoch(context.Background(), t.TempDir()); err != nil || !e.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("Epoch = %v, %v", e, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := Epoch(context.Background(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a number of seconds") {
		t.Errorf("a bad SOURCE_DATE_EPOCH: %v", err)
	}
}

// TestWriteSums: the file sha256sum -c reads, sorted by name, paths
// relative to the output folder.
func TestWriteSums(t *testing.T) {
	out := t.TempDir()
	os.MkdirAll(filepath.Join(out, "bin"), 0o755)
	b := filepath.Join(out, "b.deb")
	a := filepath.Join(out, "bin", "a")
	os.WriteFile(b, []byte("b"), 0o644)
	os.WriteFile(a, []byte("a"), 0o644)
	if err := WriteSums(out, []string{b, a}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	want := "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d  b.deb\n" +
		"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb  bin/a\n"
	if string(got) != want {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", got, want)
	}
	if err := WriteSums(out, []string{filepath.Join(out, "missing")}); err == nil {
		t.Error("a missing artifact gave no error")
	}
	bin := (&Build{Out: "/d"}).Bin(Agent, Target{"windows", "amd64"})
	if bin != "/d/bin/windows-amd64/sonde-agent.exe" {
		t.Errorf("Bin = %s", bin)
	}
}
