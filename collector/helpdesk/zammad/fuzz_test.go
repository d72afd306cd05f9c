package zammad

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/helpdesktest"
)

// FuzzWebhook feeds Webhook any body, signed right (so that the payload's
// decoding is what is tried) and not, with Zammad answering the lookup of
// an administrator's own state with any answer: a signed call gives an
// error or a usable key and state (helpdesktest.CheckHooked), an unsigned
// one or one signed otherwise is always ErrUnsigned.
func FuzzWebhook(f *testing.F) {
	var mu sync.Mutex
	var answer []byte // to GET /api/v1/ticket_states/ID
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v1/ticket_states/") {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(answer)
	}))
	f.Cleanup(func() {
		srv.Close()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	const secret = "zammad-hook-secret"
	for _, tc := range []struct{ body, answer string }{
		{`{"ticket":{"id":81,"title":"Disk almost full [sonde:SND-7]","state":"closed","state_id":4,"owner":{"id":5,"login":"emma@chrispresso.com"},"owner_id":5},"article":{"id":104}}`, ``},
		{`{"ticket":{"id":82,"state":"solved","state_id":8,"owner":{"login":"-"}}}`, `{"id":8,"name":"solved","state_type_id":5,"state_type":"closed"}`},
		{`{"ticket":{"id":"83","state":"waiting for vendor","state_id":9,"owner":{"login":"Zoë\u0000` + strings.Repeat("z", 300) + `"}}}`, `{"id":9,"name":"waiting for vendor","state_type":"pending reminder"}`},
		{`{"ticket":{"id":84,"state":"archived","state_id":10}}`, `{"id":10,"state_type":null}`},
		{`{"ticket":{"id":85,"state":"archived","state_id":11}}`, `[]`},
		{`{"ticket":{"id":"../1","state":"open"}}`, ``},
		{`{"ticket":{"id":9223372036854775808,"state":"new"}}`, ``},
	} {
		f.Add([]byte(tc.body), []byte(tc.answer), sign(secret, []byte(tc.body)))
	}
	f.Fuzz(func(t *testing.T, body, stateAnswer []byte, sig string) {
		mu.Lock()
		answer = stateAnswer
		mu.Unlock()
		c, err := New(settings(srv.URL)) // a new one each time: no state type kept from an earlier input
		if err != nil {
			t.Fatal(err)
		}
		h := c.(helpdesk.Hooked)
		good := sign(secret, body)
		key, st, err := h.Webhook(http.Header{"X-Hub-Signature": {good}}, body)
		helpdesktest.CheckHooked(t, key, st, err)
		key, _, err = h.Webhook(http.Header{}, body)
		helpdesktest.CheckUnsigned(t, key, err)
		key, _, err = h.Webhook(http.Header{"X-Hub-Signature": {sign("other-secret", body)}}, body)
		helpdesktest.CheckUnsigned(t, key, err)
		if !strings.EqualFold(sig, good) {
			key, _, err = h.Webhook(http.Header{"X-Hub-Signature": {sig}}, body)
			helpdesktest.CheckUnsigned(t, key, err)
		}
	})
}
