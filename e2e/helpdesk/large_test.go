//go:build helpdesk

package helpdesk

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// sink is a webhook receiver that verifies each call's signature and
// hashes attachments as they stream in, keeping none.
type sink struct {
	secret []byte
	mu     sync.Mutex
	files  map[string]string // file name → SHA-256 of the bytes received
	bad    int               // calls refused for their signature
}

func (k *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mac := hmac.New(sha256.New, k.secret)
	io.WriteString(mac, r.Header.Get("X-Sonde-Timestamp")+".")
	sum := sha256.New()
	if _, err := io.Copy(io.MultiWriter(mac, sum), r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !hmac.Equal([]byte(r.Header.Get("X-Sonde-Signature")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil)))) {
		k.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.Header.Get("X-Sonde-Event") == "attach" {
		k.files[r.Header.Get("X-Sonde-File-Name")] = hex.EncodeToString(sum.Sum(nil))
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, "{}")
}

// TestLargeBundleStreams: a 200 MB bundle goes to the helpdesk with the
// collector's resident memory growing by less than 20 MB, and arrives
// whole.
func TestLargeBundleStreams(t *testing.T) {
	const size = 200 << 20
	k := &sink{secret: []byte("large-bundle-secret"), files: map[string]string{}}
	srv := httptest.NewServer(k)
	defer srv.Close()
	yaml := fmt.Sprintf("connectors:\n  - name: hook\n    kind: webhook\n    url: %s\n    webhook_secret: {env: SONDE_HOOK_SECRET}\n    max_upload: %d\n", srv.URL, 300<<20)
	s := startSonde(t, yaml, map[string]string{"SONDE_HOOK_SECRET": string(k.secret)})
	out := s.cli(t, "ticket", "open", "--title", "Slow after update", "--agent", s.agentID)
	ref := regexp.MustCompile(`SND-\d+`).FindString(out)
	s.cli(t, "bundle", s.agentID, "--ticket", ref, "-o", t.TempDir()+"/b.zip")

	// The collector stopped, its bundle's file is replaced with 200 MB of
	// noise (which does not compress), recorded with its size and hash.
	if !s.c.Proc.Stop(30 * time.Second) {
		t.Fatal("the collector did not stop on SIGTERM")
	}
	db, err := sql.Open("sqlite", s.c.DB())
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	var path string
	if err := db.QueryRow(`SELECT id, path FROM bundles WHERE ticket_ref = ?`, ref).Scan(&id, &path); err != nil {
		t.Fatal(err)
	}
	sha := plant(t, filepath.Join(s.c.Data, "bundles", path), size)
	if _, err := db.Exec(`UPDATE bundles SET size = ?, sha256 = ? WHERE id = ?`, size, sha, id); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s.c.Start(t)
	time.Sleep(2 * time.Second) // let the collector settle
	pid := s.c.Proc.Pid()
	before, _ := harness.RSS(pid)
	hwmBefore := statusField(t, pid, "VmHWM:")

	var peak atomic.Int64
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if n, err := harness.RSS(pid); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	began := time.Now()
	s.cli(t, "ticket", "link", ref, "--external", "W-1")
	s.delivered(t, ref, 2, 5*time.Minute)
	took := time.Since(began)
	stop()
	<-done
	hwmAfter := statusField(t, pid, "VmHWM:")
	grew := peak.Load() - before
	t.Logf("200 MB uploaded in %s; collector VmRSS %.1f MB before, peak %.1f MB while uploading (+%.1f MB); VmHWM %.1f → %.1f MB",
		took.Round(time.Millisecond), mb(before), mb(peak.Load()), mb(grew), mb(hwmBefore), mb(hwmAfter))
	k.mu.Lock()
	got, bad := k.files[fmt.Sprintf("sonde-%s-bundle-%d.zip", ref, id)], k.bad
	k.mu.Unlock()
	if got != sha || bad != 0 {
		t.Errorf("the receiver got SHA-256 %q (%d calls badly signed); want %s", got, bad, sha)
	}
	if grew >= 20<<20 {
		t.Errorf("the collector's resident memory grew by %.1f MB while uploading 200 MB; want less than 20 MB", mb(grew))
	}
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

func statusField(t *testing.T, pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	return harness.StatusField(string(b), key)
}

// plant writes size bytes of noise to path and returns their SHA-256.
func plant(t *testing.T, path string, size int64) string {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	rng := rand.NewChaCha8([32]byte{7})
	if _, err := io.CopyN(w, rng, size); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
