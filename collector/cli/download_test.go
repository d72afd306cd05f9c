package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDownloadResumes cuts a download short, then runs it again: the
// second run asks only for the rest (Range) and the file comes out whole
// and checked.
func TestDownloadResumes(t *testing.T) {
	content := make([]byte, 300<<10)
	rand.Read(content)
	var ranges []string
	cut := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		ranges = append(ranges, r.Header.Get("Range"))
		if cut {
			// Send the first 100 KiB of a longer body, then drop the connection.
			cut = false
			w.Header().Set("Content-Length", "307200")
			w.Write(content[:100<<10])
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(content))
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "b.zip")
	want := sha256hex(content)
	err = c.Download(context.Background(), "/x", file, want, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "resume") {
		t.Fatalf("first, cut download: %v", err)
	}
	if err := c.Download(context.Background(), "/x", file, want, io.Discard); err != nil {
		t.Fatalf("resumed download: %v", err)
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("file differs after resuming (%v)", err)
	}
	if len(ranges) != 2 || ranges[0] != "" || ranges[1] != "bytes=102400-" {
		t.Fatalf("requests asked for ranges %q", ranges)
	}
	if _, err := os.Stat(file + ".part"); !os.IsNotExist(err) {
		t.Fatalf("FILE.part left behind: %v", err)
	}
}

// TestDownloadRefusesLinks: `sonde bundle get -o FILE`, run as root in
// /tmp, writes through neither a link planted at FILE.part (which it
// appends to) nor one at FILE; the links' target keeps its content.
func TestDownloadRefusesLinks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("the bundle"))
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("root's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "b.zip")
	for _, link := range []string{file + ".part", file} {
		if err := os.Symlink(victim, link); err != nil {
			t.Fatal(err)
		}
		err := c.Download(context.Background(), "/x", file, "", io.Discard)
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("download with a link at %s: %v", filepath.Base(link), err)
		}
		if b, _ := os.ReadFile(victim); string(b) != "root's file" {
			t.Fatalf("a link at %s was written through: %q", filepath.Base(link), b)
		}
		os.Remove(link)
	}
	if err := c.Download(context.Background(), "/x", file, "", io.Discard); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != "the bundle" {
		t.Fatalf("file holds %q", b)
	}
}
