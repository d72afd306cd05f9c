package diff

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// probeNames are the probes the diff reads, and one it does not.
var probeNames = []string{"system", "services", "network", "disk", "disk-usage", "memory", "processes", "software", "cpu"}

// FuzzCompare gives every probe of both documents arbitrary bytes as data:
// Compare never panics, its diff always encodes as JSON, and its text
// carries no control character but the line ends.
func FuzzCompare(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/from.json")
	for _, from := range files {
		a := readDoc(f, from)
		b := readDoc(f, filepath.Join(filepath.Dir(from), "to.json"))
		for _, p := range a.Probes {
			for _, q := range b.Probes {
				if p.Name == q.Name {
					f.Add([]byte(p.Data), []byte(q.Data))
				}
			}
		}
	}
	f.Add([]byte(`{"mounts":[{"mountpoint":"/","used_ratio":2}]}`), []byte(`null`))
	f.Add([]byte(`{"services":[{"name":"a"}],"services_left_off":1,"failed":3}`), []byte(`{"failed":[{}]}`))
	f.Add([]byte(`{"default_routes":[],"listening":[{"proto":"tcp","address":"::","port":80,"pid":7,"process":"a\u001b","cmdline":"\u0000`+"`"+`"}]}`),
		[]byte(`{"default_routes":[],"listening":[{"proto":"tcp","address":"::","port":80,"pid":-1,"process":"b"}]}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		d := Compare(fuzzDoc(a), fuzzDoc(b))
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("diff does not encode: %v", err)
		}
		var out strings.Builder
		if err := d.Text(&out); err != nil {
			t.Fatal(err)
		}
		for _, r := range out.String() {
			if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
				t.Fatalf("control character %U in text", r)
			}
		}
	})
}

func fuzzDoc(data []byte) *protocol.Document {
	d := &protocol.Document{Kind: "full"}
	for _, name := range probeNames {
		d.Probes = append(d.Probes, protocol.ProbeJSON{Name: name, Data: json.RawMessage(data)})
	}
	return d
}
