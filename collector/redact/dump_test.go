package redact

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestDumpCorpus(t *testing.T) {
	for _, cf := range corpusFiles {
		in, _ := os.ReadFile(filepath.Join("testdata", "corpus", cf.file))
		r := New(Options{Pseudonymize: true, Salt: []byte("x")})
		out := runCorpus(t, r, cf.file, cf.entry, in)
		fmt.Printf("==== %s\n%s\n", cf.file, out)
		rb, _ := json.Marshal(r.Report())
		fmt.Printf("-- report %s\n", rb)
	}
}
