package alert

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"2d", 48 * time.Hour},
		{"1d", 24 * time.Hour},
		{"9999d", 9999 * 24 * time.Hour},
		{" 90s ", 90 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"0s", 0},
	} {
		rs := loadRules(t, "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    for: '"+tc.in+"'\n    keep_firing_for: '"+tc.in+"'\n")
		if r := rs.Rules()[0]; r.For != tc.want || r.KeepFiringFor != tc.want {
			t.Errorf("%q: for %v, keep_firing_for %v, want %v", tc.in, r.For, r.KeepFiringFor, tc.want)
		}
	}
	for _, bad := range []string{"10000d", "1.5d", "d", "-1d", "2 d"} {
		if _, err := parseDuration(bad, 0); err == nil {
			t.Errorf("parseDuration(%q) accepted", bad)
		}
	}
}

// TestLoadErrorMessages pins whole messages: file, line, the rule's name
// when it has one, and what is wrong.
func TestLoadErrorMessages(t *testing.T) {
	long := strings.Repeat("x", 1025)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"named", "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: urgent\n",
			`team.yaml:4: rule "R": severity "urgent" is not one of info, warning, critical`},
		{"unnamed", "rules:\n  - expr: cpu.load1 > 1\n    severity: info\n",
			`team.yaml:2: invalid rule name "" (letters, digits, _ . -; starting with a letter)`},
		{"long label", "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    labels:\n      team: " + long + "\n",
			`team.yaml:6: rule "R": label "team" is longer than 1024 bytes`},
		{"label name", "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    labels: {9team: x}\n",
			`team.yaml:5: rule "R": invalid label name "9team"`},
		{"days", "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    for: 10000d\n",
			`team.yaml:5: rule "R": for: invalid duration "10000d" (want e.g. 90s, 10m, 1h30m, 2d)`},
		{"blank expr", "rules:\n  - name: R\n    expr: '  '\n    severity: info\n",
			`team.yaml:3: rule "R": expr is required`},
		{"helpdesk without ticket", "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    helpdesk: rt\n",
			`team.yaml:5: rule "R": helpdesk and queue say where the rule's ticket opens: they need ticket: true`},
		{"helpdesk name", "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    ticket: true\n    helpdesk: 'r t'\n",
			`team.yaml:6: rule "R": helpdesk "r t": name a connector of the collector's helpdesks file (1–32 letters, digits, '-' or '_')`},
		{"queue", "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    ticket: true\n    helpdesk: rt\n    queue: \"a\\tb\"\n",
			`team.yaml:7: rule "R": queue "a\tb": up to 128 printable ASCII characters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRules(t, map[string]string{"team.yaml": tc.body})
			_, err := Load(nil, dir)
			if want := filepath.Join(dir, tc.want); err == nil || err.Error() != want {
				t.Fatalf("error %v\nwant  %s", err, want)
			}
		})
	}
	// A queue of 128 printable characters, spaces and '~' included, is fine;
	// one more is not.
	q := "IT Support~" + strings.Repeat("q", 117)
	if r := loadRules(t, "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    ticket: true\n    helpdesk: rt\n    queue: '"+q+"'\n").Rules()[0]; r.Helpdesk != "rt" || r.Queue != q {
		t.Errorf("helpdesk and queue: %q, %q", r.Helpdesk, r.Queue)
	}
	if r := loadRules(t, "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    ticket: true\n").Rules()[0]; r.Helpdesk != "" || r.Queue != "" || !r.Ticket {
		t.Errorf("a ticket rule without a helpdesk: %+v", r)
	}
	dir := writeRules(t, map[string]string{"team.yaml": "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    ticket: true\n    helpdesk: rt\n    queue: '" + q + "x'\n"})
	if _, err := Load(nil, dir); err == nil || !strings.Contains(err.Error(), "up to 128 printable ASCII characters") {
		t.Errorf("a queue of 129 characters: %v", err)
	}
	if _, err := Load(nil, writeRules(t, map[string]string{"team.yaml": "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    ticket: true\n    queue: Hardware\n"})); err == nil || !strings.Contains(err.Error(), `helpdesk "": name a connector`) {
		t.Errorf("a queue without a helpdesk: %v", err)
	}
	// A label value of exactly 1024 bytes is fine.
	rs := loadRules(t, "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n    labels:\n      team: "+long[1:]+"\n")
	if r := rs.Rules()[0]; len(r.Labels["team"]) != 1024 || r.String() != "R ("+r.Source+")" {
		t.Errorf("rule %s", r.String())
	}
}

// TestUnreadableRuleFiles: a file that cannot be read is named, without a
// line.
func TestUnreadableRuleFiles(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), broken); err != nil {
		t.Fatal(err)
	}
	_, err := Load(nil, dir)
	var le *LoadError
	if !errors.As(err, &le) || le.File != broken || le.Line != 0 || !strings.HasPrefix(err.Error(), broken+": ") || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("error %v", err)
	}

	defaults := fstest.MapFS{"dir.yaml": {Mode: fs.ModeDir}}
	_, err = Load(defaults, "")
	if !errors.As(err, &le) || le.File != "defaults/dir.yaml" || !strings.HasPrefix(err.Error(), "defaults/dir.yaml: ") {
		t.Fatalf("defaults error %v", err)
	}

	// A directory named like a rule file is skipped.
	dir = writeRules(t, map[string]string{"team.yaml": goodRules})
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	if rs, err := Load(nil, dir); err != nil || rs.Len() != 1 {
		t.Fatalf("directory named .yaml: %v %v", rs.Names(), err)
	}
}

// TestTeamRuleErrors covers the ways a team file can clash with itself.
func TestTeamRuleErrors(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"a.yaml": "rules:\n  - name: R\n    expr: cpu.load1 > 1\n    severity: info\n",
		"b.yaml": "rules:\n  - name: R\n    disabled: true\n",
	})
	_, err := Load(nil, dir)
	want := filepath.Join(dir, "b.yaml") + `:2: rule "R" is already defined at ` + filepath.Join(dir, "a.yaml") + ":2"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant  %s", err, want)
	}
	// Disabling needs no expression and removes the default rule only.
	dir = writeRules(t, map[string]string{"off.yaml": "rules:\n  - name: DiskAlmostFull\n    disabled: true\n"})
	rs, err := Load(DefaultRules, dir)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := Load(DefaultRules, "")
	if rs.rule("DiskAlmostFull") != nil || rs.Len() != all.Len()-1 {
		t.Fatalf("rules %v", rs.Names())
	}
}
