package zendesk

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/helpdesktest"
)

// FuzzWebhook feeds Webhook any body and timestamp, signed right (so that
// the body's decoding is what is tried) and not: a signed call gives an
// error or a usable key and state (helpdesktest.CheckHooked), an unsigned
// one or one signed otherwise is always ErrUnsigned.
func FuzzWebhook(f *testing.F) {
	const secret = "dGhpc19zZWNyZXQ"
	c, err := New(helpdesk.Settings{Config: helpdesk.Config{URL: "https://x.zendesk.com", User: fakeEmail, Queue: strconv.Itoa(fakeGroup)}, Secret: fakeToken, WebhookSecret: secret})
	if err != nil {
		f.Fatal(err)
	}
	h := c.(helpdesk.Hooked)
	const ts = "2026-05-01T10:00:00Z"
	for _, body := range []string{
		`{"ticket_id": "35436", "status": "Solved", "assignee": "Alice"}`,
		`{"ticket_id": 35436, "status": "On-hold", "assignee": ""}`,
		`{"ticket_id": 35436, "status": "closed"}`,
		`{"ticket_id": "35436", "status": "Résolu"}`,
		`{"ticket_id": "35436", "status": "open", "assignee": "Zoë \u001b]0;pwned\u0007` + strings.Repeat("x", 300) + `"}`,
		`{"ticket_id": "\"35436\"", "status": "new"}`,
		`{"ticket_id": 3.5e4, "status": "pending"}`,
		`{"ticket_id": "99999999999999999999", "status": "hold"}`,
	} {
		f.Add([]byte(body), ts, sign(secret, ts, []byte(body)))
	}
	headers := func(sig, ts string) http.Header {
		return http.Header{"X-Zendesk-Webhook-Signature": {sig}, "X-Zendesk-Webhook-Signature-Timestamp": {ts}}
	}
	f.Fuzz(func(t *testing.T, body []byte, ts, sig string) {
		good := sign(secret, ts, body)
		key, st, err := h.Webhook(headers(good, ts), body)
		if ts == "" {
			helpdesktest.CheckUnsigned(t, key, err)
		} else {
			helpdesktest.CheckHooked(t, key, st, err)
		}
		key, _, err = h.Webhook(http.Header{}, body)
		helpdesktest.CheckUnsigned(t, key, err)
		key, _, err = h.Webhook(headers(sign("other-secret", ts, body), ts), body)
		helpdesktest.CheckUnsigned(t, key, err)
		if sig != good {
			key, _, err = h.Webhook(headers(sig, ts), body)
			helpdesktest.CheckUnsigned(t, key, err)
		}
	})
}
