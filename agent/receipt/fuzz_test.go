package receipt

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzRead writes arbitrary bytes as the receipts file and its rotated
// predecessor and reads them back. Nothing may panic and the files being
// there is no error; Read returns exactly the lines that decode as a
// receipt, oldest file first, at most limit of the newest.
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	l := &Log{Dir: dir}
	for i, r := range []Receipt{
		{At: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), Kind: "requested", RequestID: "rq-7f3a9c51", Ticket: "INC-4711",
			Probes: []string{"cpu", "disks"}, Collector: "collector.example.net:7443", Delivered: true},
		{At: time.Date(2026, 11, 24, 12, 1, 0, 0, time.UTC), Kind: "periodic", Probes: []string{"cpu"}, Error: "no route to host"},
		{At: time.Date(2026, 11, 24, 12, 2, 0, 0, time.UTC), Kind: "local", Probes: []string{}},
	} {
		if err := l.Add(r); err != nil {
			f.Fatal(err)
		}
		if i == 1 {
			if err := os.Rename(filepath.Join(dir, File), filepath.Join(dir, File+".1")); err != nil {
				f.Fatal(err)
			}
		}
	}
	old, err := os.ReadFile(filepath.Join(dir, File+".1"))
	if err != nil {
		f.Fatal(err)
	}
	cur, err := os.ReadFile(filepath.Join(dir, File))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(old, cur, 0)
	f.Add(old, cur, 1)
	f.Add(cur, old[:len(old)-5], 2)
	f.Add(append(bytes.Clone(old), 0, 0, 0, '\n'), []byte("garbage\r\n"+string(cur)), -1)
	f.Add([]byte{}, []byte("\n\n{}\n[]\nnull\n{\"probes\":\"x\"}\n"), 3)
	// A line longer than the old scanner's buffer must not hide the
	// receipts after it.
	f.Add([]byte(`{"error":"`+strings.Repeat("x", 1<<20)+"\"}\n"+string(old)), cur, 0)
	f.Fuzz(func(t *testing.T, old, cur []byte, limit int) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, File+".1"), old, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, File), cur, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(limit, dir)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		var want []Receipt
		for _, b := range [][]byte{old, cur} {
			for line := range bytes.SplitSeq(b, []byte("\n")) {
				var r Receipt
				if json.Unmarshal(line, &r) == nil {
					want = append(want, r)
				}
			}
		}
		if limit > 0 && len(want) > limit {
			want = want[len(want)-limit:]
		}
		if !reflect.DeepEqual(got, want) {
			i := 0
			for i < len(got) && i < len(want) && reflect.DeepEqual(got[i], want[i]) {
				i++
			}
			t.Fatalf("Read returns %d receipts, want %d; first difference at %d", len(got), len(want), i)
		}
	})
}

// FuzzSummary writes arbitrary bytes as the receipts' summary and reads it
// back: nothing may panic; what reads is in date order, and a fold of more
// receipts into it keeps within the bounds.
func FuzzSummary(f *testing.F) {
	seed, err := json.Marshal(summarize(nil, []Receipt{
		{At: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Kind: "requested", Ticket: "INC-1", Sent: SentAll, Delivered: true},
		{At: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), Kind: "periodic", Sent: SentNone},
	}))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`[{"date":"2026-12-02","kinds":null},{"date":"2026-12-01","tickets":{"A":1}}]`))
	f.Add([]byte(`{}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, SummaryFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		days, err := ReadSummary(dir)
		if err != nil {
			return
		}
		for i := 1; i < len(days); i++ {
			if days[i-1].Date > days[i].Date {
				t.Fatalf("days out of order: %q before %q", days[i-1].Date, days[i].Date)
			}
		}
		more := summarize(days, []Receipt{{At: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Kind: "periodic", Ticket: "T-1"}})
		if len(more) > max(len(days), maxDays) {
			t.Fatalf("%d days after folding one receipt into %d", len(more), len(days))
		}
	})
}
