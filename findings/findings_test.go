package findings

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/<case>/")

// loadCase reads testdata/<name>/snapshot.json and, when present,
// history.json (older snapshots, newest first).
func loadCase(t testing.TB, name string) (*protocol.Document, []*protocol.Document) {
	t.Helper()
	dir := filepath.Join("testdata", name)
	var doc protocol.Document
	readJSON(t, filepath.Join(dir, "snapshot.json"), &doc)
	var history []*protocol.Document
	if _, err := os.Stat(filepath.Join(dir, "history.json")); err == nil {
		readJSON(t, filepath.Join(dir, "history.json"), &history)
	}
	return &doc, history
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func cases(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), "fuzz") {
			names = append(names, e.Name())
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d cases under testdata", len(names))
	}
	return names
}

// golden compares got with testdata/<name>/<file>, or rewrites it with
// -update.
func golden(t *testing.T, name, file string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name, file)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestCases runs each case folder: its findings against expected.json and
// what Check prints against check.txt.
func TestCases(t *testing.T) {
	known := map[string]bool{}
	for _, id := range IDs() {
		known[id] = true
	}
	for _, name := range cases(t) {
		t.Run(name, func(t *testing.T) {
			doc, history := loadCase(t, name)
			fs := analyze(doc, history, false)
			for _, f := range fs {
				if !known[f.ID] {
					t.Errorf("finding %s was not registered by its analyzer", f.ID)
				}
			}
			got, err := json.MarshalIndent(fs, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, "expected.json", append(got, '\n'))

			var out bytes.Buffer
			if err := Check(&out, doc, nil); err != nil {
				t.Fatal(err)
			}
			golden(t, name, "check.txt", out.Bytes())
		})
	}
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestHealthyHasNoProblems(t *testing.T) {
	doc, history := loadCase(t, "healthy")
	for _, f := range Analyze(doc, history) {
		if f.Severity >= Warning {
			t.Errorf("healthy machine: %s (%s): %s", f.ID, f.Severity, f.Title)
		}
	}
}

func TestExpectedIDs(t *testing.T) {
	for name, want := range map[string][]string{
		"full-disk-failed-service": {"disk.almost-full", "service.failed"},
		"crash-looping":            {"disk.inodes-almost-full", "service.crash-looping", "service.failed"},
		"crash-looping-history":    {"service.crash-looping", "service.failed"},
		"dns-failing":              {"dns.no-resolvers", "dns.failing"},
		"offline":                  {"network.no-default-route", "dns.failing"},
		"collector-unreachable":    {"collector.unreachable"},
		"clock-skew":               {"time.clock-skew", "time.not-synced"},
		"disk-filling":             {"disk.filling-fast"},
		"failed-probes":            nil,
		"windows":                  {"service.failed"},
		"health": {"dns.no-resolvers", "disk.almost-full", "memory.pressure", "memory.swap-heavy",
			"network.no-default-route", "service.failed", "agent.snapshots-dropped"},
		"busy-machine": {"memory.pressure", "memory.swap-heavy", "network.interface-errors",
			"process.cpu-hog", "collector.high-latency", "system.reboot-pending"},
	} {
		doc, history := loadCase(t, name)
		got := ids(Analyze(doc, history))
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestRanking(t *testing.T) {
	doc, history := loadCase(t, "busy-machine")
	fs := Analyze(doc, history)
	if !slices.IsSortedFunc(fs, func(a, b Finding) int {
		if a.Severity != b.Severity {
			return int(b.Severity - a.Severity)
		}
		return strings.Compare(a.ID, b.ID)
	}) {
		t.Errorf("not ranked by severity then ID: %v", ids(fs))
	}
	if fs[0].ID != "memory.pressure" || fs[0].Severity != Critical {
		t.Errorf("first finding = %s %s, want critical memory.pressure", fs[0].Severity, fs[0].ID)
	}
}

// TestHistoryIgnoredWithoutTimes keeps history from mattering when its
// snapshots carry no capture time or are newer than the current one.
func TestHistoryIgnoredWithoutTimes(t *testing.T) {
	doc, history := loadCase(t, "disk-filling")
	for _, h := range history {
		h.CapturedAt = doc.CapturedAt.Add(1)
	}
	if got := ids(Analyze(doc, append(history, nil))); slices.Contains(got, "disk.filling-fast") {
		t.Errorf("growth from snapshots newer than the current: %v", got)
	}
}

// TestCaseFilesAreDocuments keeps the fixtures in the document's shape: a
// misspelt field would silently be ignored.
func TestCaseFilesAreDocuments(t *testing.T) {
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "snapshot.json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var doc protocol.Document
		if err := dec.Decode(&doc); err != nil {
			return errors.Join(errors.New(path), err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
