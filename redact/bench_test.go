package redact

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

func BenchmarkText(b *testing.B) {
	in, err := os.ReadFile(filepath.Join("testdata", "corpus", "app.log"))
	if err != nil {
		b.Fatal(err)
	}
	s := strings.Repeat(string(in), 64)
	r := New(Options{Pseudonymize: true})
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		r.Text(s)
	}
}

func BenchmarkDocument(b *testing.B) {
	in, err := os.ReadFile(filepath.Join("testdata", "corpus", "document.json"))
	if err != nil {
		b.Fatal(err)
	}
	var d protocol.Document
	if err := json.Unmarshal(in, &d); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		New(Options{Pseudonymize: true}).Document(&d)
	}
}

// BenchmarkDenseCandidates guards against quadratic matching: many
// name-like candidates without secrets must not each cost a scan of the rest
// of the text. Compare a size's ns/op (or MB/s) with the next: four times
// the input should cost about four times the time, never sixteen. Both
// sizes are above the input length where Go's regexp switches engines.
// (A timed unit test flaked on loaded machines; the figures are in
// BENCHMARKS.md.)
func BenchmarkDenseCandidates(b *testing.B) {
	for _, unit := range []string{"a:", "?a=b", "--a b ", "A=b;", `a:"`, `a:\"`} {
		for _, size := range []int{32000, 128000} {
			s := strings.Repeat(unit, size/len(unit))
			b.Run(fmt.Sprintf("%q/%dkB", unit, size/1000), func(b *testing.B) {
				b.SetBytes(int64(len(s)))
				for b.Loop() {
					New(Options{Pseudonymize: true}).Text(s)
				}
			})
		}
	}
}
