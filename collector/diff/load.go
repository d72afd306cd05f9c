package diff

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/sondehq/sonde/protocol"
)

// The sides of a comparison, as notes name them.
const (
	earlier = "earlier"
	later   = "later"
)

// status is what became of one probe's data in one document.
type status int

const (
	ok status = iota
	absent
	failed
	unreadable
)

// maxNoteText bounds an untrusted string quoted in a note.
const maxNoteText = 200

// read decodes the named probe's data in d into v. The first probe of that
// name counts. For a failed probe it also returns the probe's error.
func read(d *protocol.Document, probe string, v any) (status, string) {
	for i := range d.Probes {
		p := &d.Probes[i]
		if p.Name != probe {
			continue
		}
		if p.Error != "" {
			return failed, p.Error
		}
		if !present(p.Data) {
			return unreadable, ""
		}
		if json.Unmarshal(p.Data, v) != nil {
			return unreadable, ""
		}
		return ok, ""
	}
	return absent, ""
}

// explain notes why one side's probe data cannot be compared.
func explain(s *Section, probe, side string, st status, why string) {
	switch st {
	case absent:
		s.note("not comparable: the %s snapshot has no %s probe", side, probe)
	case failed:
		s.note("not comparable: the %s probe failed in the %s snapshot: %s", probe, side, clip(why, maxNoteText))
	case unreadable:
		s.note("not comparable: the %s data in the %s snapshot is not readable", probe, side)
	}
}

// load decodes the named probe's data of both documents into a and b. It
// returns false, after noting why, unless both decode; a probe absent from
// both documents is not worth a note.
func load(s *Section, p pair, probe string, a, b any) bool {
	sa, wa := read(p.from, probe, a)
	sb, wb := read(p.to, probe, b)
	if sa == ok && sb == ok {
		return true
	}
	if sa == absent && sb == absent {
		return false
	}
	explain(s, probe, earlier, sa, wa)
	explain(s, probe, later, sb, wb)
	return false
}

// present says whether a JSON value is there and not null.
func present(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// decodeList decodes a JSON array into v; false when raw is missing, null
// or not such an array.
func decodeList(raw json.RawMessage, v any) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return false
	}
	return json.Unmarshal(raw, v) == nil
}

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ratioOf returns a ratio that is known and within 0..1.
func ratioOf(r *float64) (float64, bool) {
	if r == nil || *r < 0 || *r > 1 {
		return 0, false
	}
	return *r, true
}
