package render

import (
	"slices"
	"testing"
)

// TestLines: a note's line breaks break lines; escape sequences and other
// control characters show as \x.. and cannot act on a terminal.
func TestLines(t *testing.T) {
	for in, want := range map[string][]string{
		"one":                        {"one"},
		"one\ntwo\r\nthree\n":        {"one", "two", "three"},
		"red \x1b[31mtext\x07":       {`red \x1b[31mtext\x07`},
		"tab\there\n\u009bCSI":       {"tab    here", `\x9bCSI`},
		"carriage\rreturn overwrite": {`carriage\x0dreturn overwrite`},
	} {
		if got := Lines(in); !slices.Equal(got, want) {
			t.Errorf("Lines(%q) = %q, want %q", in, got, want)
		}
	}
}
