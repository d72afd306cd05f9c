package redact

import (
	"encoding/json"
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
