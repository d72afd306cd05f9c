package webhook

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
)

func signed(t *testing.T, secret string, at time.Time, body string) http.Header {
	t.Helper()
	ts := strconv.FormatInt(at.Unix(), 10)
	sig, err := Sign([]byte(secret), ts, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"X-Sonde-Timestamp": {ts}, "X-Sonde-Signature": {sig}}
}

func TestWebhook(t *testing.T) {
	now := time.Unix(1767225600, 0)
	c := newConn(t, settings("https://hooks.example.com"))
	c.now = func() time.Time { return now }
	body := `{"key":"HD-1","status":"resolved","assignee":"alice"}`

	key, st, err := c.Webhook(signed(t, testSecret, now.Add(-4*time.Minute), body), []byte(body))
	if err != nil || key != "HD-1" || st != (helpdesk.State{Status: helpdesk.StatusResolved, Assignee: "alice"}) {
		t.Errorf("Webhook = %q, %+v, %v", key, st, err)
	}
	upper := signed(t, testSecret, now, body)
	upper.Set("X-Sonde-Signature", "sha256="+strings.ToUpper(strings.TrimPrefix(upper.Get("X-Sonde-Signature"), "sha256=")))
	if _, _, err := c.Webhook(upper, []byte(body)); err != nil {
		t.Errorf("a signature in upper-case hex: %v", err)
	}

	for name, h := range map[string]http.Header{
		"unsigned":          {},
		"other secret":      signed(t, "another secret", now, body),
		"other body":        signed(t, testSecret, now, `{"key":"HD-1","status":"closed"}`),
		"six minutes old":   signed(t, testSecret, now.Add(-6*time.Minute), body),
		"six minutes ahead": signed(t, testSecret, now.Add(6*time.Minute), body),
		"no sha256=": func() http.Header {
			h := signed(t, testSecret, now, body)
			h.Set("X-Sonde-Signature", strings.TrimPrefix(h.Get("X-Sonde-Signature"), "sha256="))
			return h
		}(),
		"other timestamp": func() http.Header {
			h := signed(t, testSecret, now, body)
			h.Set("X-Sonde-Timestamp", strconv.FormatInt(now.Unix()-1, 10))
			return h
		}(),
	} {
		if _, _, err := c.Webhook(h, []byte(body)); !errors.Is(err, helpdesk.ErrUnsigned) {
			t.Errorf("%s: %v; want ErrUnsigned", name, err)
		}
	}

	for _, bad := range []string{
		`{"key":"HD-1","status":"solved"}`,
		`{"key":"","status":"open"}`,
		`{"key":"HD 1","status":"open"}`,
		`{"key":"HD-1","status":"open","assignee":"` + strings.Repeat("a", 201) + `"}`,
		`not json`,
	} {
		_, _, err := c.Webhook(signed(t, testSecret, now, bad), []byte(bad))
		if err == nil || errors.Is(err, helpdesk.ErrUnsigned) {
			t.Errorf("signed %s: %v; want an error about the body", bad, err)
		}
	}
}

// TestSignIsTheDocumentedScheme pins the signature to the receiver's
// documentation: HMAC-SHA256 of TIMESTAMP + "." + BODY, hex, after "sha256=".
func TestSignIsTheDocumentedScheme(t *testing.T) {
	got, err := Sign([]byte("key"), "1767225600", bytes.NewReader([]byte(`{"a":1}`)))
	// echo -n '1767225600.{"a":1}' | openssl dgst -sha256 -hmac key
	want := "sha256=80f7b75f8618b9b24d72673996a625f1a43f7387a26b6739d667431724fe4d23"
	if err != nil || got != want {
		t.Errorf("Sign = %q, %v; want %s", got, err, want)
	}
}
