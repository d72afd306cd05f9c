package diff

import (
	"cmp"
	"fmt"
	"slices"
)

// logsData is what the diff reads of the logs probe: its groups of
// warnings and errors, each a source and a signature (the message with
// numbers and identifiers masked).
type logsData struct {
	Groups []struct {
		Log       string `json:"log"`
		Source    string `json:"source"`
		Signature string `json:"signature"`
		Level     string `json:"level"`
		Count     int    `json:"count"`
	} `json:"groups"`
	GroupsOmitted int `json:"groups_omitted"`
}

// maxSignature bounds a log signature quoted in a change.
const maxSignature = 160

// compareLogs lists the log error signatures in the later snapshot that
// the earlier one did not have: "what started failing since it worked".
// Signatures that went away are not listed (the logs probe looks back a
// day, so old errors age out on their own).
func compareLogs(s *Section, p pair) {
	var a, b logsData
	if !load(s, p, "logs", &a, &b) {
		return
	}
	if a.GroupsOmitted > 0 {
		s.note("the earlier snapshot listed only some of its log groups (%d left out): some signatures shown as new may be old", a.GroupsOmitted)
	}
	type key struct{ log, source, signature string }
	seen := map[key]bool{}
	for _, g := range a.Groups {
		seen[key{g.Log, g.Source, g.Signature}] = true
	}
	type fresh struct {
		key
		level string
		count int
	}
	var news []fresh
	for _, g := range b.Groups {
		k := key{g.Log, g.Source, g.Signature}
		if g.Signature == "" || seen[k] {
			continue
		}
		seen[k] = true
		news = append(news, fresh{k, g.Level, g.Count})
	}
	// Most frequent first: a new error that repeats matters most.
	slices.SortStableFunc(news, func(x, y fresh) int {
		return cmp.Or(cmp.Compare(y.count, x.count), cmp.Compare(x.source, y.source), cmp.Compare(x.signature, y.signature))
	})
	for _, n := range news {
		subject := clip(n.source, maxNoteText)
		if n.log != "" && n.log != n.source {
			subject = clip(n.log, maxNoteText) + "/" + subject
		}
		s.add(Change{Kind: Added, Subject: subject + ": " + clip(n.signature, maxSignature),
			After: fmt.Sprintf("%s, %d×", cmp.Or(clip(n.level, 16), "warning"), n.count)})
	}
}
