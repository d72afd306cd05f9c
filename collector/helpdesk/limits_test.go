package helpdesk

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSubjectWithin(t *testing.T) {
	for _, tc := range []struct {
		title string
		max   int
		want  string
	}{
		{"Disk full", 160, "Disk full [sonde:SND-7]"},
		{"Disk full on host-7", 20, "Disk… [sonde:SND-7]"},
		{"Éééééééééé", 18, "Ééé… [sonde:SND-7]"},
		{"Disk full", 5, "[sonde:SND-7]"},
	} {
		got := NewTicket{Title: tc.title, Marker: "sonde:SND-7"}.SubjectWithin(tc.max)
		if got != tc.want {
			t.Errorf("SubjectWithin(%q, %d) = %q; want %q", tc.title, tc.max, got, tc.want)
		}
	}
	long := NewTicket{Title: strings.Repeat("ü", 300), Marker: "sonde:SND-7"}.SubjectWithin(255)
	if utf8.RuneCountInString(long) != 255 || !strings.HasSuffix(long, " [sonde:SND-7]") {
		t.Errorf("a 300-character title within 255: %d characters, %q", utf8.RuneCountInString(long), long[len(long)-20:])
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"Alice":                  "Alice",
		"  Bob Smith\n":          "Bob Smith",
		"\x1b[31mEve\x1b[0m":     "[31mEve[0m",
		"Zoë\xff":                "Zoë\uFFFD",
		"":                       "",
		strings.Repeat("é", 150): strings.Repeat("é", MaxAssignee/2),
	} {
		if got := CleanName(in); got != want {
			t.Errorf("CleanName(%q) = %q; want %q", in, got, want)
		}
	}
}
