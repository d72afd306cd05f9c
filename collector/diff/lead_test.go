package diff

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestResourceChanges: CPU use, load, CPU and memory pressure and swap
// past their thresholds appear with before → after; drifts below do not.
func TestResourceChanges(t *testing.T) {
	from := doc("cpu", `{"logical_cores":2,"usage_percent":{"total":12},"load":{"load1":0.3},"pressure":{"some":{"avg60":2}}}`,
		"memory", `{"used_ratio":0.4,"swap":{"total_bytes":1073741824,"used_bytes":0},"pressure":{"some":{"avg60":0}}}`)
	to := doc("cpu", `{"logical_cores":2,"usage_percent":{"total":97},"load":{"load1":3.9},"pressure":{"some":{"avg60":41}}}`,
		"memory", `{"used_ratio":0.9,"swap":{"total_bytes":1073741824,"used_bytes":536870912},"pressure":{"some":{"avg60":25}}}`)
	d := Compare(from, to)
	var got []string
	for _, name := range []string{SectionCPU, SectionMemory} {
		for _, c := range changesOf(d, name) {
			got = append(got, c.Subject+": "+c.Before+" → "+c.After)
		}
	}
	want := []string{
		"CPU used: 12% → 97%", "load (1 min, 2 cores): 0.30 → 3.90", "CPU pressure (stalled, last minute): 2% → 41%",
		"memory used: 40.0% → 90.0%", "memory pressure (stalled, last minute): 0% → 25%", "swap used: 0 B → 512.0 MiB",
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes:\n got %q\nwant %q", got, want)
	}
	// Below the thresholds: 25 points of CPU under 90 %, a load moving
	// less than half a core per core, pressure by 5 points.
	quiet := doc("cpu", `{"logical_cores":8,"usage_percent":{"total":37},"load":{"load1":3.5},"pressure":{"some":{"avg60":7}}}`)
	calm := doc("cpu", `{"logical_cores":8,"usage_percent":{"total":12},"load":{"load1":0.5},"pressure":{"some":{"avg60":2}}}`)
	if cs := changesOf(Compare(calm, quiet), SectionCPU); len(cs) != 0 {
		t.Errorf("drifts reported as changes: %+v", cs)
	}
	// Health samples have them flat.
	h1, h2 := doc("cpu", `{"usage_percent":50,"load1":1}`), doc("cpu", `{"usage_percent":95,"load1":1}`)
	h1.Kind, h2.Kind = "health", "health"
	if cs := changesOf(Compare(h1, h2), SectionCPU); len(cs) != 1 || cs[0].After != "95%" {
		t.Errorf("health samples: %+v", cs)
	}
}

// TestLeadPutsExplanationsFirst: the sections that can explain current
// findings come first, most severe finding's first, and in them the
// changes naming the finding's subject, marked.
func TestLeadPutsExplanationsFirst(t *testing.T) {
	from := doc("disk", `{"mounts":[{"mountpoint":"/","used_ratio":0.5},{"mountpoint":"/home","used_ratio":0.2}]}`,
		"services", `{"units":[{"name":"cups.service","active":"active","sub":"running"}]}`,
		"cpu", `{"usage_percent":{"total":10}}`)
	to := doc("disk", `{"mounts":[{"mountpoint":"/","used_ratio":0.97},{"mountpoint":"/home","used_ratio":0.3}]}`,
		"services", `{"units":[{"name":"cups.service","active":"failed","sub":"failed"}]}`,
		"cpu", `{"usage_percent":{"total":99}}`)
	d := Compare(from, to)
	d.Lead([]Cause{{ID: "disk.almost-full", Subject: "/"}, {ID: "process.cpu-hog", Subject: "java"}})
	var names []string
	for _, s := range d.Sections {
		names = append(names, s.Name)
	}
	if len(names) < 3 || names[0] != SectionDisk || names[1] != SectionCPU {
		t.Fatalf("sections: %v, want disk then cpu first", names)
	}
	disk := d.Sections[0].Changes
	if len(disk) != 2 || disk[0].Subject != "/ used" || disk[0].Explains != "disk.almost-full" || disk[1].Explains != "" {
		t.Errorf("disk changes: %+v", disk)
	}
	var text bytes.Buffer
	d.Text(&text)
	if !strings.Contains(text.String(), "~ / used: 50.0% → 97.0% (+47.0 pp)   ← may explain disk.almost-full\n") {
		t.Errorf("text:\n%s", text.String())
	}
	// No causes: the order stands.
	plain := Compare(from, to)
	plain.Lead(nil)
	if plain.Sections[0].Name == SectionDisk {
		t.Errorf("Lead(nil) moved sections: %+v", plain.Sections)
	}
}

func TestMentions(t *testing.T) {
	for _, c := range []struct {
		text, subject string
		want          bool
	}{
		{"/ used", "/", true},
		{"/home used", "/", false},
		{"/home used", "/ho", false},
		{"folder /srv/data", "/srv", true},
		{"folder /srvx/data", "/srv", false},
		{"mount /", "/", true},
		{"nginx.service", "nginx.service", true},
		{"xnginx.service", "nginx.service", false},
		{"tcp 0.0.0.0:8080 (nginx", "nginx", true},
		{"", "/", false},
	} {
		if got := mentions(c.text, c.subject); got != c.want {
			t.Errorf("mentions(%q, %q) = %v", c.text, c.subject, got)
		}
	}
}
