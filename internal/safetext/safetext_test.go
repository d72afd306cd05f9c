package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClean(t *testing.T) {
	if got := Clean("  plain \t", 64); got != "plain" {
		t.Errorf("space kept: %q", got)
	}
	if got := Clean("a\x00b\r\nc", 64); got != "abc" {
		t.Errorf("control characters kept: %q", got)
	}
	if got := Clean("bad \xff byte", 64); got != "bad \uFFFD byte" {
		t.Errorf("invalid UTF-8: %q", got)
	}
	if got := Clean(strings.Repeat("é", 100), 5); got != "éé" {
		t.Errorf("cut: %q", got)
	}
}

func TestBound(t *testing.T) {
	s, cut := Bound("ééé", 3, false)
	if s != "é" || !cut {
		t.Errorf("Bound = %q, %v", s, cut)
	}
	if s, cut := Bound("\xffab", 10, true); !utf8.ValidString(s) || !cut {
		t.Errorf("Bound = %q, %v: cut is passed through", s, cut)
	}
}
