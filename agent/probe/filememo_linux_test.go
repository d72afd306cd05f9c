package probe

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// memoFixture is a folder of configuration files, all last changed an
// hour before the memo's clock (past racyWindow), and a computation over
// it that counts its runs: it reads conf, lists conf.d, reads each file
// there, and looks for a file that is not there.
type memoFixture struct {
	dir  string
	runs int
	memo fileMemo[string]
}

func newMemoFixture(t *testing.T) *memoFixture {
	t.Helper()
	f := &memoFixture{dir: t.TempDir()}
	f.memo.now = func() time.Time { return time.Now().Add(time.Hour) }
	f.write(t, "conf", "a")
	if err := os.Mkdir(filepath.Join(f.dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.write(t, "conf.d/one", "1")
	// The folder's modification time an hour ago, so that adding an entry
	// moves it even within the file system clock's tick.
	earlier := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(f.dir, "conf.d"), earlier, earlier); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *memoFixture) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *memoFixture) get(ctx context.Context) string {
	return f.memo.get(ctx, func(ctx context.Context) string {
		f.runs++
		var out []string
		b, _, _ := traceRead(ctx, filepath.Join(f.dir, "conf"), 64)
		out = append(out, string(b))
		names, _, _ := traceList(ctx, filepath.Join(f.dir, "conf.d"), "", 16)
		for _, n := range names {
			b, _, _ := traceRead(ctx, filepath.Join(f.dir, "conf.d", n), 64)
			out = append(out, n+"="+string(b))
		}
		if traceExists(ctx, filepath.Join(f.dir, "absent"), false) {
			out = append(out, "absent there")
		}
		return strings.Join(out, " ")
	})
}

// TestFileMemo: the value is computed again exactly when something it was
// computed from changed: a file's content (at the same size too, its
// times moving), a folder's entries, a file that was absent appearing, a
// file replaced by another.
func TestFileMemo(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, f *memoFixture)
		want   string
	}{
		{"nothing", func(*testing.T, *memoFixture) {}, "a one=1"},
		{"content, same size", func(t *testing.T, f *memoFixture) {
			f.write(t, "conf", "b")
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(filepath.Join(f.dir, "conf"), later, later); err != nil {
				t.Fatal(err)
			}
		}, "b one=1"},
		{"content, longer", func(t *testing.T, f *memoFixture) { f.write(t, "conf.d/one", "11") }, "a one=11"},
		{"an entry added", func(t *testing.T, f *memoFixture) { f.write(t, "conf.d/two", "2") }, "a one=1 two=2"},
		{"an absent file appears", func(t *testing.T, f *memoFixture) { f.write(t, "absent", "") }, "a one=1 absent there"},
		{"a file replaced", func(t *testing.T, f *memoFixture) {
			f.write(t, "new", "c")
			if err := os.Rename(filepath.Join(f.dir, "new"), filepath.Join(f.dir, "conf")); err != nil {
				t.Fatal(err)
			}
		}, "c one=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newMemoFixture(t)
			if got := f.get(ctx); got != "a one=1" || f.runs != 1 {
				t.Fatalf("first: %q, %d runs", got, f.runs)
			}
			if got := f.get(ctx); got != "a one=1" || f.runs != 1 {
				t.Fatalf("unchanged: %q, %d runs; want it kept", got, f.runs)
			}
			tc.change(t, f)
			runs := f.runs
			if got := f.get(ctx); got != tc.want {
				t.Fatalf("after the change: %q, want %q", got, tc.want)
			}
			if changed := tc.want != "a one=1"; changed != (f.runs == runs+1) {
				t.Fatalf("%d runs after the change", f.runs-runs)
			}
		})
	}
}

// TestFileMemoRacy: a value read from a file changed within racyWindow
// before the reading began is not kept, however the file's stamp stays.
func TestFileMemoRacy(t *testing.T) {
	f := newMemoFixture(t)
	f.memo.now = time.Now // the files were written just now
	for i := range 3 {
		if got := f.get(context.Background()); got != "a one=1" || f.runs != i+1 {
			t.Fatalf("call %d: %q, %d runs; want a run each call", i+1, got, f.runs)
		}
	}
}

// TestProxyKept: the proxy probe keeps what it read of unchanged files,
// and still checks and scrubs the settings at every call, counting what
// it scrubbed each time (the redaction report counts every snapshot's).
func TestProxyKept(t *testing.T) {
	p := &proxyProbe{goos: "linux"}
	p.etc.now = func() time.Time { return time.Now().Add(time.Hour) }
	set := NewTestSet(map[string]Probe{"proxy": p})
	ctx := WithRoot(context.Background(), filepath.Join("testdata", "proxy", "laptop", "root"))
	var first []byte
	for i := range 3 {
		r := set.Run(ctx, &Env{}, []string{"proxy"}, 5*time.Second)[0]
		if r.Error != "" {
			t.Fatal(r.Error)
		}
		scrubbed := 0
		for _, s := range r.Scrubbed {
			scrubbed += int(s.Count)
		}
		if scrubbed != 4 {
			t.Errorf("call %d: %d values scrubbed, want 4", i+1, scrubbed)
		}
		if i == 0 {
			first = r.Data
		} else if string(r.Data) != string(first) {
			t.Errorf("call %d differs from the first:\n%s\n%s", i+1, r.Data, first)
		}
		if p.etc.trace == nil {
			t.Fatalf("call %d: nothing kept", i+1)
		}
	}
}
