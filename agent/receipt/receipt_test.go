package receipt

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLog(t *testing.T) {
	dir := t.TempDir()
	l := &Log{Dir: dir}
	for i := 0; i < 3; i++ {
		if err := l.Add(Receipt{At: time.Unix(int64(i), 0), Kind: "requested", Ticket: fmt.Sprint("T-", i), Probes: []string{"cpu"}, Delivered: true}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Read(2, dir)
	if err != nil || len(got) != 2 || got[1].Ticket != "T-2" {
		t.Fatalf("Read: %v %+v", err, got)
	}
	if fi, _ := os.Stat(filepath.Join(dir, File)); fi.Mode().Perm() != Mode {
		t.Errorf("receipts file mode %v, want %v: every local user may read it", fi.Mode(), fs.FileMode(Mode))
	}
}

func TestRotates(t *testing.T) {
	dir := t.TempDir()
	l := &Log{Dir: dir}
	big := strings.Repeat("x", 100<<10)
	for i := 0; i < 25; i++ {
		if err := l.Add(Receipt{Kind: "periodic", Error: big}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{File, File + ".1"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Size() > MaxSize {
			t.Fatalf("%s: %v, %d bytes", f, err, fi.Size())
		}
	}
	got, _ := Read(0, dir)
	if len(got) < 10 {
		t.Fatalf("only %d receipts kept", len(got))
	}
}

// TestReceiptFieldsArePublic: every local user may read the receipts, so a
// field added to Receipt must be one that holds no secret. Add it here only
// once it is known not to (see the package doc).
func TestReceiptFieldsArePublic(t *testing.T) {
	public := []string{"At", "Kind", "RequestID", "Ticket", "Probes", "Collector", "Sent", "Delivered", "Error"}
	var got []string
	for f := range reflect.TypeFor[Receipt]().Fields() {
		got = append(got, f.Name)
	}
	if !slices.Equal(got, public) {
		t.Fatalf("Receipt has fields %v; reviewed as public: %v", got, public)
	}
}

// TestMigrate: receipts an older agent kept in the private state dir move
// to the public folder, readable by all, in their order; a crash halfway
// leaves a copy that the next Migrate cleans up; and a public file that
// differs keeps the old one beside it, read first.
func TestMigrate(t *testing.T) {
	priv, pub := t.TempDir(), t.TempDir()
	old := &Log{Dir: priv}
	for i := range 3 {
		old.Add(Receipt{At: time.Unix(int64(i), 0), Kind: "periodic", Ticket: fmt.Sprint("T-", i)})
		if i == 1 {
			os.Rename(filepath.Join(priv, File), filepath.Join(priv, File+".1"))
		}
	}
	for _, f := range []string{File, File + ".1"} {
		os.Chmod(filepath.Join(priv, f), 0o600) // as older agents made them
	}
	want, _ := Read(0, priv)
	// A crash after copying the older file, before removing it.
	b, _ := os.ReadFile(filepath.Join(priv, File+".1"))
	os.WriteFile(filepath.Join(pub, File+".1"), b, 0o644)

	if err := Migrate(priv, pub); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(priv); len(left) != 0 {
		t.Errorf("left in the private dir: %v", left)
	}
	got, _ := Read(0, priv, pub)
	if !reflect.DeepEqual(got, want) || len(got) != 3 {
		t.Fatalf("after migrating: %+v, want %+v", got, want)
	}
	for _, f := range []string{File, File + ".1"} {
		if fi, err := os.Stat(filepath.Join(pub, f)); err != nil || fi.Mode().Perm() != Mode {
			t.Errorf("%s: %v %v", f, err, fi)
		}
	}

	// Both have a receipts file: the private one stays, read before.
	(&Log{Dir: priv}).Add(Receipt{At: time.Unix(10, 0), Kind: "requested", Ticket: "OLD"})
	(&Log{Dir: pub}).Add(Receipt{At: time.Unix(11, 0), Kind: "requested", Ticket: "NEW"})
	if err := Migrate(priv, pub); err != nil {
		t.Fatal(err)
	}
	got, _ = Read(2, priv, pub)
	if len(got) != 2 || got[0].Ticket != "T-2" || got[1].Ticket != "NEW" {
		t.Fatalf("read %+v", got)
	}
	got, _ = Read(0, priv, pub)
	if len(got) != 5 || got[0].Ticket != "OLD" {
		t.Fatalf("read %+v", got)
	}
}

// TestRotationKeepsASummary: receipts a flood rotates out of the log are
// counted, day by day, in the summary: the ticket's receipt is gone from
// the log, not from the record, and every receipt is in the log or the
// summary, once.
func TestRotationKeepsASummary(t *testing.T) {
	dir := t.TempDir()
	l := &Log{Dir: dir}
	day1 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, r := range []Receipt{
		{At: day1, Kind: "requested", Ticket: "INC-1", Probes: []string{"cpu"}, Sent: SentAll, Delivered: true},
		{At: day1.Add(time.Hour), Kind: "fault", Probes: []string{"cpu"}, Sent: SentNone},
	} {
		if err := l.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	big := strings.Repeat("x", 100<<10)
	const flood = 40
	for i := range flood {
		if err := l.Add(Receipt{At: day1.Add(24*time.Hour + time.Duration(i)*time.Second), Kind: "requested", Ticket: "FLOOD", Sent: SentPart, Error: big}); err != nil {
			t.Fatal(err)
		}
	}
	logged, err := Read(0, dir)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(logged, func(r Receipt) bool { return r.Ticket == "INC-1" }) {
		t.Fatal("the flood did not rotate INC-1's receipt out of the log: the test shows nothing")
	}
	days, err := ReadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	want1 := Day{Date: "2026-12-01", Kinds: map[string]int{"requested": 1, "fault": 1}, Left: 1, Delivered: 1, Tickets: map[string]int{"INC-1": 1}}
	if len(days) != 2 || !reflect.DeepEqual(days[0], want1) || days[1].Date != "2026-12-02" {
		t.Fatalf("summary %+v, want %+v and 2026-12-02", days, want1)
	}
	if total := days[0].Total() + days[1].Total() + len(logged); total != flood+2 || days[1].Left != days[1].Total() || days[1].Tickets["FLOOD"] != days[1].Total() {
		t.Errorf("%d summarized and %d logged, want %d in all; day 2: %+v", days[0].Total()+days[1].Total(), len(logged), flood+2, days[1])
	}
	if fi, err := os.Stat(filepath.Join(dir, SummaryFile)); err != nil || fi.Mode().Perm() != Mode {
		t.Errorf("summary file: %v, mode %v, want %v", err, fi.Mode().Perm(), fs.FileMode(Mode))
	}
}

// TestSummaryBounded: a day counts at most maxTickets tickets by name and
// the rest together, and the summary keeps the newest maxDays days.
func TestSummaryBounded(t *testing.T) {
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rs []Receipt
	for i := range maxTickets + 36 {
		rs = append(rs, Receipt{At: day, Kind: "requested", Ticket: fmt.Sprint("T-", i)}, Receipt{At: day, Kind: "requested", Ticket: "T-0"})
	}
	days := summarize(nil, rs)
	if d := days[0]; len(d.Tickets) != maxTickets || d.OtherTickets != 36 || d.Tickets["T-0"] != maxTickets+36+1 || d.Total() != 2*(maxTickets+36) {
		t.Errorf("%d tickets named, %d others, T-0 %d times, %d in all", len(d.Tickets), d.OtherTickets, d.Tickets["T-0"], d.Total())
	}
	rs = rs[:0]
	for i := range maxDays + 50 {
		rs = append(rs, Receipt{At: day.Add(time.Duration(i) * 24 * time.Hour), Kind: "periodic"})
	}
	days = summarize(nil, rs)
	if len(days) != maxDays || days[0].Date != day.AddDate(0, 0, 50).Format("2006-01-02") || days[len(days)-1].Date != day.AddDate(0, 0, maxDays+49).Format("2006-01-02") {
		t.Errorf("%d days, %s to %s", len(days), days[0].Date, days[len(days)-1].Date)
	}
}
