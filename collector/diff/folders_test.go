package diff

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// walkJSON is disk-usage data of one walk of / with the folders and sizes
// given as path, bytes pairs.
func walkJSON(truncated bool, kv ...any) string {
	var dirs []map[string]any
	for i := 0; i+1 < len(kv); i += 2 {
		dirs = append(dirs, map[string]any{"path": kv[i], "bytes": kv[i+1]})
	}
	b, _ := json.Marshal(map[string]any{"mounts": []any{map[string]any{"mountpoint": "/", "largest_dirs": dirs, "truncated": truncated}}})
	return string(b)
}

// TestFolderThreshold: a folder changed when it moved by 100 MiB and by a
// tenth of its earlier size, either way.
func TestFolderThreshold(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		before, after uint64
		trend         string // "" for no change
	}{
		{500 * mib, 599 * mib, ""},       // 99 MiB
		{500 * mib, 600 * mib, "up"},     // 100 MiB, 20%
		{2000 * mib, 2199 * mib, ""},     // 199 MiB, 9.95%
		{2000 * mib, 2200 * mib, "up"},   // 10%
		{2000 * mib, 1800 * mib, "down"}, // shrank a tenth
		{2000 * mib, 1801 * mib, ""},     // not quite
		{0, 100 * mib, "up"},             // from nothing
		{1 << 62, 1<<62 + 1<<59, "up"},   // huge, no overflow
		{1<<64 - 1, 0, "down"},           // the whole range
		{100 * mib, 100 * mib, ""},
	} {
		d := Compare(doc("disk-usage", walkJSON(false, "/srv", c.before)), doc("disk-usage", walkJSON(false, "/srv", c.after)))
		got := changesOf(d, SectionDisk)
		switch {
		case c.trend == "" && len(got) != 0:
			t.Errorf("%d → %d: %+v, want no change", c.before, c.after, got)
		case c.trend != "" && (len(got) != 1 || got[0].Trend != c.trend || got[0].Subject != "folder /srv" || got[0].Kind != Changed):
			t.Errorf("%d → %d: %+v, want one change %s", c.before, c.after, got, c.trend)
		}
	}
}

// TestFoldersCompared: only folders both walks list, of mounts both
// walked without error, count, each once; a walk cut short is noted; a
// snapshot without the probe, which runs on demand, is no news.
func TestFoldersCompared(t *testing.T) {
	const gib = 1 << 30
	from := doc("disk-usage", walkJSON(false, "/srv", gib, "/gone", 5*gib, "/srv", 9*gib))
	to := doc("disk-usage", walkJSON(true, "/srv", 3*gib, "/new", 7*gib, "/srv", 3*gib))
	d := Compare(from, to)
	want := []Change{{Kind: Changed, Subject: "folder /srv", Before: "1.0 GiB", After: "3.0 GiB", Trend: "up"}}
	if got := changesOf(d, SectionDisk); !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if s := d.Section(SectionDisk); len(s.Notes) != 1 || s.Notes[0] != "folder sizes under / are lower bounds: a walk of it was cut short" {
		t.Errorf("notes %+v", s.Notes)
	}

	failed := `{"mounts":[{"mountpoint":"/","error":"walking /: permission denied","largest_dirs":[{"path":"/srv","bytes":0}]}]}`
	other := `{"mounts":[{"mountpoint":"/data","largest_dirs":[{"path":"/srv","bytes":9000000000}]}]}`
	for name, later := range map[string]*protocol.Document{
		"absent later":  doc("memory", `{"used_ratio":0.5}`),
		"failed walk":   doc("disk-usage", failed),
		"other mount":   doc("disk-usage", other),
		"not decodable": doc("disk-usage", `{"mounts":"x"}`),
	} {
		if d := Compare(from, later); d.Section(SectionDisk) != nil {
			t.Errorf("%s: %+v", name, d.Section(SectionDisk))
		}
	}
}
