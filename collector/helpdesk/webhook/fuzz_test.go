package webhook

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk/helpdesktest"
)

// FuzzWebhook feeds Webhook any body and timestamp, signed right (so that
// the body's decoding is what is tried) and not: a signed call within
// MaxSkew gives an error or a usable key and state
// (helpdesktest.CheckHooked); one outside it, an unsigned one, or one
// signed otherwise is always ErrUnsigned.
func FuzzWebhook(f *testing.F) {
	now := time.Unix(1767225600, 0)
	hc, err := New(settings("https://hooks.example.com"))
	if err != nil {
		f.Fatal(err)
	}
	c := hc.(*Connector)
	c.now = func() time.Time { return now }
	at := strconv.FormatInt(now.Add(-4*time.Minute).Unix(), 10)
	sign := func(secret, ts string, body []byte) string {
		sig, _ := Sign([]byte(secret), ts, bytes.NewReader(body)) // reading bytes does not fail
		return sig
	}
	for _, body := range []string{
		`{"key":"HD-1","status":"resolved","assignee":"alice"}`,
		`{"key":"HD-1","status":"closed"}`,
		`{"key":"HD-1","status":"open","assignee":"Zoë \u001b[2J\u0085` + strings.Repeat("a", 180) + `"}`,
		`{"key":"HD-1","status":"solved"}`,
		`{"key":"","status":"open"}`,
		`{"key":"HD 1","status":"open"}`,
		`{"key":"HD-1","status":"open","assignee":"` + strings.Repeat("a", 201) + `"}`,
		`not json`,
	} {
		f.Add([]byte(body), at, sign(testSecret, at, []byte(body)))
	}
	f.Fuzz(func(t *testing.T, body []byte, ts, sig string) {
		good := sign(testSecret, ts, body)
		signed := func(sig string) http.Header {
			return http.Header{"X-Sonde-Timestamp": {ts}, "X-Sonde-Signature": {sig}}
		}
		key, st, err := c.Webhook(signed(good), body)
		if sec, perr := strconv.ParseInt(ts, 10, 64); perr == nil && sec >= now.Add(-MaxSkew).Unix() && sec <= now.Add(MaxSkew).Unix() {
			helpdesktest.CheckHooked(t, key, st, err)
		} else {
			helpdesktest.CheckUnsigned(t, key, err)
		}
		key, _, err = c.Webhook(http.Header{}, body)
		helpdesktest.CheckUnsigned(t, key, err)
		key, _, err = c.Webhook(signed(sign("other-secret", ts, body)), body)
		helpdesktest.CheckUnsigned(t, key, err)
		if !strings.EqualFold(sig, good) {
			key, _, err = c.Webhook(signed(sig), body)
			helpdesktest.CheckUnsigned(t, key, err)
		}
	})
}
