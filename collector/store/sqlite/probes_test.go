package sqlite

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// TestAppendProbesIsJSONMarshal: the probe results the store writes are
// what json.Marshal wrote before, byte for byte, for compact data: names,
// errors with quotes, control characters, HTML, non-ASCII and invalid
// UTF-8, durations small and large, scrub counts, empty and missing parts.
func TestAppendProbesIsJSONMarshal(t *testing.T) {
	texts := []string{"", "cpu", "disk-health", `open "/proc/1/stat": no such file`, "line\nbreak\ttab\x01\x1f", "<b>&amp;</b>",
		"résumé ☃ 日本", "bad \xff utf-8", "sep \u2028 \u2029", `back\slash`, "\x7f"}
	datas := []string{"", `{}`, `[]`, `null`, `0`, `"s"`, `{"a":[1,2.5,-3e-7,{"b":null}],"c":"\u003c\u00e9\""}`, `[{"mountpoint":"/","used":42.5}]`}
	durations := []float64{0, 1e-6, 0.000999, 0.053411, 1, 1001.5, 12345678.9, 1e21, 1.5e-7, -2, math.MaxFloat64, math.SmallestNonzeroFloat64}
	rnd := rand.New(rand.NewPCG(3, 4))
	pick := func(s []string) string { return s[rnd.IntN(len(s))] }
	cases := [][]protocol.ProbeJSON{nil, {}}
	for range 300 {
		n := 1 + rnd.IntN(5)
		probes := make([]protocol.ProbeJSON, n)
		for i := range probes {
			p := &probes[i]
			p.Name, p.Error, p.DurationMS = pick(texts), pick(texts), durations[rnd.IntN(len(durations))]
			if d := pick(datas); d != "" {
				p.Data = json.RawMessage(d)
			}
			switch rnd.IntN(3) {
			case 1:
				p.Scrubbed = []protocol.Scrub{}
			case 2:
				for range 1 + rnd.IntN(3) {
					p.Scrubbed = append(p.Scrubbed, protocol.Scrub{Rule: pick(texts), Count: rnd.Uint32()})
				}
			}
		}
		cases = append(cases, probes)
	}
	for _, probes := range cases {
		want, err := json.Marshal(probes)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendProbes([]byte("prefix"), probes)
		if err != nil {
			t.Fatalf("%+v: %v", probes, err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("appendProbes wrote\n%s\njson.Marshal\n%s", got[len("prefix"):], want)
		}
	}
}

// TestAppendProbesRefusesNaN: a duration that is not a number is refused,
// as json.Marshal refused it, never written as text JSON cannot read.
func TestAppendProbesRefusesNaN(t *testing.T) {
	for _, d := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if b, err := appendProbes(nil, []protocol.ProbeJSON{{Name: "cpu", DurationMS: d}}); err == nil {
			t.Errorf("duration %v: wrote %s, want an error", d, b)
		}
	}
}
