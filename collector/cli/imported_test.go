package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestImportedMarked: listings, a shown snapshot and a diff say which
// snapshots were imported, and which had their capture time moved.
func TestImportedMarked(t *testing.T) {
	answers := map[string]string{
		"/api/v1/agents/pc-1/snapshots": `[
			{"id":3,"kind":"full","captured_at":"2026-12-01T10:00:00Z","received_at":"2026-12-01T10:00:01Z","seq":9,"imported":true},
			{"id":2,"kind":"full","captured_at":"2026-12-01T09:00:00Z","received_at":"2026-12-01T09:00:00Z","seq":2,"imported":false,"agent_captured_at":"2026-12-02T09:00:00Z"},
			{"id":1,"kind":"full","captured_at":"2026-12-01T08:00:00Z","received_at":"2026-12-01T08:00:01Z","seq":1,"imported":false}]`,
		"/api/v1/snapshots/3":      `{"id":3,"kind":"full","captured_at":"2026-12-01T10:00:00Z","received_at":"2026-12-01T10:00:01Z","imported":true}`,
		"/api/v1/agents/pc-1/diff": `{"from_id":1,"to_id":3,"to_imported":true,"diff":{}}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, a)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out bytes.Buffer
	if err := snapshots(ctx, c, []string{"pc-1"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasSuffix(lines[0], "SOURCE") || !strings.HasSuffix(lines[1], "imported") ||
		!strings.HasSuffix(lines[2], "agent, clock adjusted") || !strings.HasSuffix(lines[3], "agent") {
		t.Errorf("sonde snapshots:\n%s", out.String())
	}
	out.Reset()
	if err := show(ctx, c, []string{"3"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); !strings.Contains(first, "snapshot 3 (imported from a file, not delivered by the agent)") {
		t.Errorf("sonde show: %s", first)
	}
	out.Reset()
	if err := diffCmd(ctx, c, []string{"pc-1"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); first != "changes from snapshot 1 to snapshot 3 (imported)" {
		t.Errorf("sonde diff: %s", first)
	}
}
