package helpdesktest

import (
	"errors"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sondehq/sonde/collector/helpdesk"
)

// MaxKey bounds a ticket key a webhook call may name: what the webhook
// connector documents to its receivers.
const MaxKey = 200

// CheckHooked checks what a Hooked connector's Webhook returned for a
// signed call, whatever the body: an error and no key, or a key of 1 to
// MaxKey printable ASCII characters without spaces (what a Sonde ticket
// takes as a link), one of Sonde's statuses, and an assignee of at most
// helpdesk.MaxAssignee bytes of UTF-8 without control characters. The
// fuzz targets of the connectors share it.
func CheckHooked(t testing.TB, key string, st helpdesk.State, err error) {
	t.Helper()
	if err != nil {
		if key != "" {
			t.Errorf("Webhook failed (%v) and named a key, %q", err, key)
		}
		return
	}
	if key == "" || len(key) > MaxKey {
		t.Errorf("Webhook named a key of %d bytes; want 1 to %d", len(key), MaxKey)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' {
			t.Errorf("Webhook named the key %q, which has a character other than printable ASCII", key)
			break
		}
	}
	switch st.Status {
	case helpdesk.StatusOpen, helpdesk.StatusResolved, helpdesk.StatusClosed:
	default:
		t.Errorf("Webhook gave the status %q; want open, resolved or closed", st.Status)
	}
	if len(st.Assignee) > helpdesk.MaxAssignee || !utf8.ValidString(st.Assignee) {
		t.Errorf("Webhook gave an assignee of %d bytes (valid UTF-8: %v); want at most %d of UTF-8", len(st.Assignee), utf8.ValidString(st.Assignee), helpdesk.MaxAssignee)
	}
	for _, r := range st.Assignee {
		if unicode.IsControl(r) {
			t.Errorf("Webhook gave the assignee %q, which has a control character", st.Assignee)
			break
		}
	}
}

// CheckUnsigned checks that Webhook refused a call that is not signed
// right as helpdesk.ErrUnsigned, whatever the body.
func CheckUnsigned(t testing.TB, key string, err error) {
	t.Helper()
	if !errors.Is(err, helpdesk.ErrUnsigned) || key != "" {
		t.Errorf("Webhook of a call not signed right = %q, %v; want ErrUnsigned", key, err)
	}
}
