package alert

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// FuzzParseExpr feeds arbitrary text to the parser and evaluates what
// parses over a real health snapshot and its predecessor; neither may
// panic.
func FuzzParseExpr(f *testing.F) {
	rs, err := Load(DefaultRules, "")
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range rs.Rules() {
		f.Add(r.Expr)
	}
	for _, s := range []string{
		`disk.used_ratio{mountpoint=~"/b.*", mountpoint!="/x"} > 0.5 and (memory.used_ratio > 0.4 or cpu.load1 < -1e3)`,
		`rate(network.errors{interface!~"lo"}) >= .5`,
		`services.failed{unit="a\"b"} == 1`,
		`((((cpu.load1 > 1))))`,
		`1 > 2`, `disk.used_ratio >`, `"unterminated`, `x{`, `-`, `1e`, `.`,
	} {
		f.Add(s)
	}
	b, err := os.ReadFile("testdata/health.json")
	if err != nil {
		f.Fatal(err)
	}
	var cur protocol.Document
	if err := json.Unmarshal(b, &cur); err != nil {
		f.Fatal(err)
	}
	prev := cur
	prev.CapturedAt = cur.CapturedAt.Add(-60e9)
	in := Input{AgentID: "a", Health: &cur, Previous: &prev, LastSeen: prev.CapturedAt}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpr(src)
		if err != nil {
			if _, ok := err.(*ExprError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if e.String() != src {
			t.Fatalf("String() = %q, want %q", e.String(), src)
		}
		if n := len(e.eval(newEvalCtx(&in, cur.CapturedAt))); n > maxSeries {
			t.Fatalf("%d series", n)
		}
	})
}
