package diff

import (
	"slices"
	"testing"
)

// TestNewLogSignatures: a log error that started since the earlier
// snapshot is listed, most frequent first, after the software changes;
// one both snapshots had is not, nor one that went away.
func TestNewLogSignatures(t *testing.T) {
	logs := func(groups string, omitted int) string {
		return `{"groups":[` + groups + `],"groups_omitted":` + string(rune('0'+omitted)) + `}`
	}
	const old = `{"log":"kmsg","source":"kernel","signature":"usb #-#: device descriptor read/#, error -#","level":"error","count":4}`
	const gone = `{"log":"journal","source":"cups.service","signature":"Unable to open /dev/usb/lp#","level":"warning","count":2}`
	const once = `{"log":"journal","source":"NetworkManager","signature":"dhcp#(wlp#s#): request timed out","level":"warning","count":1}`
	const often = `{"log":"kmsg","source":"kernel","signature":"I/O error, dev sdb, sector # op #x#:(READ)","level":"error","count":37}`
	d := Compare(doc("logs", logs(old+","+gone, 0)), doc("logs", logs(old+","+once+","+often, 0)))
	s := d.Section(SectionLogs)
	want := []Change{
		{Kind: Added, Subject: "kmsg/kernel: I/O error, dev sdb, sector # op #x#:(READ)", After: "error, 37×"},
		{Kind: Added, Subject: "journal/NetworkManager: dhcp#(wlp#s#): request timed out", After: "warning, 1×"},
	}
	if s == nil || !slices.Equal(s.Changes, want) || len(s.Notes) != 0 {
		t.Fatalf("logs section %+v\nwant %+v", s, want)
	}
	// An earlier list that was cut short may miss a signature it had.
	d = Compare(doc("logs", logs(old, 3)), doc("logs", logs(old+","+once, 0)))
	if s := d.Section(SectionLogs); s == nil || len(s.Changes) != 1 || len(s.Notes) != 1 {
		t.Errorf("cut earlier list: %+v", s)
	}
	// Software first, then logs.
	d = Compare(doc("logs", logs(old, 0), "software", `{"sources":[],"packages":[]}`),
		doc("logs", logs(old+","+once, 0), "software", `{"sources":[],"packages":[{"source":"dpkg","name":"x","version":"1"}]}`))
	if len(d.Sections) != 2 || d.Sections[0].Name != SectionSoftware || d.Sections[1].Name != SectionLogs {
		t.Errorf("sections %+v", d.Sections)
	}
}
