package glpi

import (
	"encoding/json"
	"regexp"
	"testing"
)

// canonicalID is a ticket id as a key: what GLPI's ids print as.
var canonicalID = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)

// FuzzAnswers feeds the answers Open and Find read with more than
// json.Unmarshal any bytes: an added item's {"id", "message"} (its id a
// number, a string, or false), and a search's "data" (missing, an array of
// rows, or an object of rows by item id), whose column 2 is a ticket's id.
// Nothing panics, rows finds no more rows than data holds, and every id
// taken is a ticket id written as GLPI writes it, so that one ticket never
// gets two keys.
func FuzzAnswers(f *testing.F) {
	for _, seed := range []string{
		`{"id": 7, "message": ""}`,
		`{"id": false, "message": "You can't add a ticket without a title and a description"}`,
		`{"id": "12", "message": "Document move succeeded.", "upload_result": {}}`,
		`{"totalcount": 2, "count": 2, "sort": [1], "order": ["ASC"], "data": [{"1": "Disk almost full [sonde:SND-7]", "2": 7, "80": "Root entity"}, {"1": "x", "2": "8"}], "content-range": "0-1/2"}`,
		`{"totalcount": 1, "count": 1, "data": {"7": {"1": "Disk almost full [sonde:SND-7]", "2": 7}}}`,
		`{"totalcount": 0, "count": 0, "sort": [1], "order": ["ASC"]}`,
		`{"data": [null, 3, [], {"2": 1.5}, {"2": -4}, {"2": 1e300}]}`,
		`{"id": "+7", "message": ""}`,
		`{"data": {"7": {"2": "007"}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, id string, err error) {
			if err == nil && !canonicalID.MatchString(id) {
				t.Errorf("%s: id %q is not a ticket id as GLPI writes one", what, id)
			}
		}
		var added created
		if json.Unmarshal(body, &added) == nil {
			id, err := added.id()
			check("an added item", id, err)
		}
		var search struct {
			Data any `json:"data"`
		}
		if json.Unmarshal(body, &search) != nil {
			return
		}
		n := 0
		switch d := search.Data.(type) {
		case []any:
			n = len(d)
		case map[string]any:
			n = len(d)
		}
		rs := rows(search.Data)
		if len(rs) > n {
			t.Errorf("rows found %d rows in data of %d", len(rs), n)
		}
		for _, row := range rs {
			id, err := created{ID: row["2"]}.id()
			check("a search row", id, err)
		}
	})
}
