package receipt

import (
	"fmt"
	"os"
	"path/filepath"
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
	got, err := Read(dir, 2)
	if err != nil || len(got) != 2 || got[1].Ticket != "T-2" {
		t.Fatalf("Read: %v %+v", err, got)
	}
	if fi, _ := os.Stat(filepath.Join(dir, File)); fi.Mode().Perm() != 0o600 {
		t.Errorf("receipts file mode %v", fi.Mode())
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
	got, _ := Read(dir, 0)
	if len(got) < 10 {
		t.Fatalf("only %d receipts kept", len(got))
	}
}
