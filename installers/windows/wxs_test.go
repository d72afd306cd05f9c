package windows

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.wxs")

// TestWXS: the WiX source of a release and of a build between tags, as
// golden files; each is well-formed XML, and two versions differ in their
// product code only, not in their upgrade code or component GUIDs.
func TestWXS(t *testing.T) {
	var sources [][]byte
	for _, v := range []string{"0.4.0", "0.4.1~dev.7.g1a2b3c4"} {
		p, err := newProduct(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.wxs()
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "agent-"+v+".wxs")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs (go test -run TestWXS -update to accept):\n%s", golden, got)
		}
		if err := xml.NewDecoder(bytes.NewReader(got)).Decode(new(struct{})); err != nil {
			t.Errorf("%s: %v", v, err)
		}
		sources = append(sources, got)
	}
	a, b := newProductOrFail(t, "0.4.0"), newProductOrFail(t, "0.4.1~dev.7.g1a2b3c4")
	if a.ProductCode == b.ProductCode || a.UpgradeCode != b.UpgradeCode || a.AgentGUID != b.AgentGUID || a.EnrollGUID != b.EnrollGUID {
		t.Errorf("GUIDs of two versions: %+v and %+v", a, b)
	}
	for _, want := range []string{
		`Version="0.4.1.7"`, `Key="SOFTWARE\Sonde\Enroll"`, `Value="[COLLECTOR]"`, `Value="[TOKEN]"`, `Value="[CAPIN]"`,
		`Arguments="run --state &#34;[CommonAppDataFolder]Sonde\agent&#34; --log-format json"`,
		`A newer version of Sonde is installed`,
	} {
		if !strings.Contains(string(sources[1]), want) {
			t.Errorf("the .wxs lacks %s", want)
		}
	}
}

func newProductOrFail(t *testing.T, v string) product {
	t.Helper()
	p, err := newProduct(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewProductRefusesABadVersion(t *testing.T) {
	if _, err := newProduct("dev"); err == nil || !strings.Contains(err.Error(), "MAJOR.MINOR.PATCH") {
		t.Errorf("got %v", err)
	}
}
