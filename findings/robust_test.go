package findings

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

func TestMissingData(t *testing.T) {
	if fs := Analyze(nil, nil); fs != nil {
		t.Errorf("nil document: %v", fs)
	}
	if fs := Analyze(&protocol.Document{}, []*protocol.Document{nil, {}}); len(fs) != 0 {
		t.Errorf("empty document: %v", fs)
	}
	doc := &protocol.Document{Probes: []protocol.ProbeJSON{
		{Name: "disk", Data: json.RawMessage(`null`)},
		{Name: "memory", Data: json.RawMessage(`{"used_ratio": null}`)},
		{Name: "network", Data: json.RawMessage(`{}`)},
		{Name: "time", Data: json.RawMessage(`{"sync": null}`)},
		{Name: "services", Data: json.RawMessage(`{"failed": [null]}`)},
		{Name: "processes", Data: json.RawMessage(`{"top_cpu": [{"cpu_percent": 400}]}`)},
	}}
	if fs := analyze(doc, nil, false); len(fs) != 0 {
		t.Errorf("empty probe data: %v", fs)
	}
}

// TestFirstProbeCounts keeps a second probe of the same name, which a
// forged snapshot could add, from replacing the first.
func TestFirstProbeCounts(t *testing.T) {
	doc := &protocol.Document{Probes: []protocol.ProbeJSON{
		{Name: "system", Data: json.RawMessage(`{"reboot_required": false}`)},
		{Name: "system", Data: json.RawMessage(`{"reboot_required": true}`)},
	}}
	if fs := Analyze(doc, nil); len(fs) != 0 {
		t.Errorf("got %v", ids(fs))
	}
}

func TestBoundedFindings(t *testing.T) {
	var units []string
	for i := range 5000 {
		units = append(units, strings.Repeat("x", 1000)+string(rune('a'+i%26))+strings.Repeat("y", i%7))
	}
	data, _ := json.Marshal(map[string]any{"manager": "systemd", "failed_units": units})
	fs := Analyze(&protocol.Document{Probes: []protocol.ProbeJSON{{Name: "services", Data: data}}}, nil)
	if len(fs) != maxPerAnalyzer {
		t.Errorf("%d findings, want %d", len(fs), maxPerAnalyzer)
	}
	for _, f := range fs {
		if len(f.Subject) > maxTextLen+3 {
			t.Fatalf("subject of %d bytes", len(f.Subject))
		}
	}
}

func TestAnalyzerPanicIsContained(t *testing.T) {
	register("test-panic", []string{"test.panic"}, func(*input) []Finding { panic("boom") })
	defer func() {
		mu.Lock()
		analyzers = analyzers[:len(analyzers)-1]
		delete(knownIDs, "test.panic")
		mu.Unlock()
	}()
	doc, _ := loadCase(t, "full-disk-failed-service")
	if got := ids(Analyze(doc, nil)); len(got) != 2 {
		t.Errorf("the other analyzers stopped: %v", got)
	}
}

func TestRegisterRejects(t *testing.T) {
	for _, id := range []string{"disk.almost-full", "NoDot", "disk.", "disk.Almost"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("register(%q) did not panic", id)
				}
			}()
			register("bad", []string{id}, nil)
		}()
	}
}

func TestSeverity(t *testing.T) {
	if !(Info < Warning && Warning < Critical) {
		t.Fatal("severities out of order")
	}
	for _, s := range []Severity{Info, Warning, Critical} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("%s: round trip gave %v, %v", b, back, err)
		}
	}
	if _, err := json.Marshal(Severity(0)); err == nil {
		t.Error("severity 0 encoded")
	}
	var s Severity
	if err := json.Unmarshal([]byte(`"fatal"`), &s); err == nil {
		t.Error("unknown severity decoded")
	}
}

func TestClip(t *testing.T) {
	at := strings.Repeat("a", maxTextLen)
	if clip(at) != at || clip("") != "" {
		t.Error("a string at the bound was cut")
	}
	if got := clip(at + "b"); got != at+"..." {
		t.Errorf("one byte over: %q", got)
	}
	// The cut never leaves half a rune.
	if got := clip("a" + strings.Repeat("é", maxTextLen)); got != "a"+strings.Repeat("é", (maxTextLen-1)/2)+"..." {
		t.Errorf("cut inside a rune: %q", got)
	}
	doc := &protocol.Document{Probes: []protocol.ProbeJSON{{Name: "services", Data: json.RawMessage(`{"failed_units": ["` + at + `"]}`)}}}
	if fs := Analyze(doc, nil); len(fs) != 1 || fs[0].Subject != at {
		t.Errorf("subject of %d bytes cut: %v", maxTextLen, fs)
	}
}

func TestSeverityNames(t *testing.T) {
	for s, want := range map[Severity]string{Info: "info", Warning: "warning", Critical: "critical", 0: "severity(0)", 7: "severity(7)"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", int(s), s.String(), want)
		}
	}
	if Info != 1 {
		t.Errorf("Info = %d: 0 must stay invalid, the zero value of a finding's severity", Info)
	}
}

// TestSortOrder: most severe first, then by ID, then by subject.
func TestSortOrder(t *testing.T) {
	fs := []Finding{
		{ID: "b.x", Severity: Warning, Subject: "2"},
		{ID: "a.x", Severity: Info},
		{ID: "b.x", Severity: Warning, Subject: "1"},
		{ID: "c.x", Severity: Critical},
		{ID: "a.x", Severity: Warning},
	}
	Sort(fs)
	var got []string
	for _, f := range fs {
		got = append(got, f.Severity.String()+" "+f.ID+" "+f.Subject)
	}
	want := []string{"critical c.x ", "warning a.x ", "warning b.x 1", "warning b.x 2", "info a.x "}
	if !slices.Equal(got, want) {
		t.Errorf("got %q", got)
	}
}
