package app

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestPprofServesProfiles: --pprof serves Go's profile index on loopback
// until stopped; without it nothing is served.
func TestPprofServesProfiles(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if bound, stop, err := startPprof("", log); err != nil || bound != nil {
		t.Fatalf("no --pprof: listening on %v (%v)", bound, err)
	} else {
		stop()
	}
	bound, stop, err := startPprof("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + bound.String() + "/debug/pprof/"
	resp, err := http.Get(url)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Errorf("GET %s: %d %.200s", url, resp.StatusCode, body)
	}
	stop()
	if resp, err := http.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("still served after stop: %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
}
