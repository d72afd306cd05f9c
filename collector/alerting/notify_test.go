package alerting

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/alert"
)

func transition(kind alert.Kind, fp, agent string) alert.Transition {
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	a := alert.Alert{Fingerprint: fp, Rule: "DiskAlmostFull", AgentID: agent, State: alert.Firing, Ticket: true,
		Severity: "critical", Value: 0.97, StartsAt: start,
		Labels:      map[string]string{"alertname": "DiskAlmostFull", "agent_id": agent, "hostname": "pc-" + agent, "mountpoint": "/"},
		Annotations: map[string]string{"summary": "Disk / is full"}}
	if kind == alert.KindResolved {
		a.State, a.EndsAt = alert.Resolved, start.Add(time.Hour)
	}
	return alert.Transition{Alert: a, Kind: kind}
}

// TestAlertmanagerPayload posts firing and resolved alerts as API v2 wants
// them: labels, annotations, startsAt, endsAt only once resolved, and a
// generatorURL to the agent's page.
func TestAlertmanagerPayload(t *testing.T) {
	var mu sync.Mutex
	var got [][]map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		var body []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Error(err)
		}
		mu.Lock()
		got = append(got, body)
		mu.Unlock()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	am := &Alertmanager{URL: srv.URL + "/", ExternalURL: "http://sonde.example:7080"}
	am.Start(ctx, 10)
	am.Notify(ctx, []alert.Transition{transition(alert.KindFiring, "00aa11bb22cc33dd", "ag1")})
	am.Notify(ctx, []alert.Transition{transition(alert.KindResolved, "00aa11bb22cc33dd", "ag1")})
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })

	firing, resolved := got[0][0], got[1][0]
	if l := firing["labels"].(map[string]any); l["alertname"] != "DiskAlmostFull" || l["hostname"] != "pc-ag1" {
		t.Errorf("labels: %v", l)
	}
	if firing["annotations"].(map[string]any)["summary"] != "Disk / is full" {
		t.Errorf("annotations: %v", firing["annotations"])
	}
	if firing["startsAt"] != "2026-11-24T10:00:00Z" || firing["endsAt"] != nil {
		t.Errorf("firing times: %v %v", firing["startsAt"], firing["endsAt"])
	}
	if resolved["endsAt"] != "2026-11-24T11:00:00Z" {
		t.Errorf("resolved endsAt: %v", resolved["endsAt"])
	}
	if firing["generatorURL"] != "http://sonde.example:7080/agents/ag1" {
		t.Errorf("generatorURL: %v", firing["generatorURL"])
	}
}

// TestWebhookSignsAndRetries checks the HMAC on every attempt and that a
// failing endpoint is retried until it answers 2xx.
func TestWebhookSignsAndRetries(t *testing.T) {
	secret := []byte("s3cret")
	var calls atomic.Int32
	var mu sync.Mutex
	var payload WebhookPayload
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if got, want := r.Header.Get(SignatureHeader), Sign(secret, body); got != want {
			t.Errorf("signature %q, want %q", got, want)
		}
		if calls.Add(1) < 3 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		json.Unmarshal(body, &payload)
		mu.Unlock()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &Webhook{URL: srv.URL, Secret: secret, Backoff: 5 * time.Millisecond}
	w.Start(ctx, 10)
	w.Notify(ctx, []alert.Transition{transition(alert.KindFiring, "00aa11bb22cc33dd", "ag1")})
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(payload.Transitions) == 1 })
	if n := calls.Load(); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
	if Sign(secret, []byte("x")) == Sign([]byte("other"), []byte("x")) {
		t.Error("the signature does not depend on the secret")
	}
}

// TestQueueBounded drops the oldest job when a dead endpoint lets jobs
// pile up.
func TestQueueBounded(t *testing.T) {
	q := newQueue[int]("test", 5, nil)
	for i := range 100 {
		q.push(i)
	}
	if n := q.pending(); n != 5 {
		t.Fatalf("%d pending, want 5", n)
	}
	if q.jobs[0] != 95 {
		t.Errorf("oldest kept %d, want 95", q.jobs[0])
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
