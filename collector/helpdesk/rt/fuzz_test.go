package rt

import (
	"encoding/json"
	"strconv"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sondehq/sonde/collector/helpdesk"
)

// FuzzTicketAnswer feeds RT's answer to GET /ticket/N, as State and Open
// read it, any bytes: the id (a string or a number, see scalar) and the
// Owner (a user link or a bare string, see ownerName). Nothing panics, a
// status is one of Sonde's, and an owner's name is at most
// helpdesk.MaxAssignee bytes of UTF-8 without control characters.
func FuzzTicketAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"id":7,"Subject":"Disk almost full [sonde:SND-7]","Status":"resolved","Owner":{"id":"alice","type":"user","_url":"http://rt/REST/2.0/user/alice","Name":"alice"},"Queue":{"id":"1","type":"queue"}}`,
		`{"id":"12","Status":"open","Owner":{"id":"Nobody","type":"user"}}`,
		`{"id":12,"Status":"stalled","Owner":"bob"}`,
		`{"id":1.5e3,"Status":"rejected","Owner":{"id":42}}`,
		`{"id":null,"Status":"closed","Owner":null}`,
		`{"id":[1],"Status":"new","Owner":{"Name":"Zoë\u001b[31m\u0000"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var tk struct {
			ID     scalar          `json:"id"`
			Status string          `json:"Status"`
			Owner  json.RawMessage `json:"Owner"`
		}
		if json.Unmarshal(body, &tk) != nil {
			return
		}
		if k := string(tk.ID); isKey(k) {
			if _, err := strconv.ParseUint(k, 10, 64); err != nil {
				t.Errorf("isKey accepted %q, which is not a ticket number: %v", k, err)
			}
		}
		switch st := status(tk.Status); st {
		case helpdesk.StatusOpen, helpdesk.StatusResolved, helpdesk.StatusClosed:
		default:
			t.Errorf("status(%q) = %q", tk.Status, st)
		}
		name := ownerName(tk.Owner)
		if len(name) > helpdesk.MaxAssignee || !utf8.ValidString(name) || name == "Nobody" {
			t.Errorf("ownerName = %q; want at most %d bytes of UTF-8, not Nobody", name, helpdesk.MaxAssignee)
		}
		for _, r := range name {
			if unicode.IsControl(r) {
				t.Errorf("ownerName = %q, with a control character", name)
				break
			}
		}
	})
}
