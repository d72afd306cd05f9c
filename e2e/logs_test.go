package e2e

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the collector's own driver, to read its database

	"github.com/sondehq/sonde/protocol"
)

// logsSecrets are written to the kernel log by TestLogsScrubbed.
var logsSecrets = []string{"Hunter2-Canary-77", "ghp_Q7w2E9r4T1y8U3i6O0p5A2s7D4f9G1h3J6k8"}

// TestLogsScrubbed is the acceptance test of the logs probe: a line with
// secrets written to the kernel log reaches the L2 engineer grouped and
// scrubbed, through the real CLI, collector and agent; and the secrets
// are nowhere: not in the agent's state (spool, receipts), the
// collector's data (database, WAL, stored bundles), a bundle built for a
// ticket, or a snapshot taken locally.
func TestLogsScrubbed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel log is Linux's")
	}
	if os.Geteuid() != 0 {
		t.Skip("writing to /dev/kmsg needs root")
	}
	ident := fmt.Sprintf("sonde-canary-%d", time.Now().UnixNano())
	kmsg, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(kmsg, "<3>%s: login failed password=%s token=%s\n", ident, logsSecrets[0], logsSecrets[1])
	kmsg.Close()
	if err != nil {
		t.Fatalf("writing to /dev/kmsg: %v", err)
	}

	s := startSonde(t)
	sonde := func(args ...string) string { t.Helper(); return mustRun(t, s.env, "sonde", args...) }
	var snap snapshotView
	out := sonde("snapshot", s.host, "--probes", "logs", "--json")
	if err := json.Unmarshal([]byte(out), &snap); err != nil || len(snap.Probes) != 1 {
		t.Fatalf("sonde snapshot --probes logs: %v\n%s", err, out)
	}
	checkLogsProbe(t, "the snapshot", []byte(out), ident)

	sonde("ticket", "open", "--ref", "INC-LOGS", "--title", "it keeps crashing", "--agent", s.host)
	bundle := filepath.Join(t.TempDir(), "inc-logs.zip")
	sonde("bundle", s.host, "--ticket", "INC-LOGS", "-o", bundle)
	checkLogsProbe(t, "the bundle's snapshot", []byte(zipFile(t, bundle, "snapshot.json")), ident)

	local := filepath.Join(t.TempDir(), "local.json")
	mustRun(t, nil, "sonde-agent", "snapshot", "--probes", "logs", "--format", "json", "-o", local)
	b, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	checkLogsProbe(t, "a local snapshot", b, ident)

	files := 0
	for _, root := range []string{s.state, s.state + "-public", s.data, bundle, local} {
		files += noSecrets(t, root, logsSecrets)
	}
	if files < 5 {
		t.Errorf("checked only %d files for the secrets", files)
	}
}

// checkLogsProbe finds, in a snapshot document, the logs probe's group of
// the planted line, scrubbed, and the count of what was scrubbed.
func checkLogsProbe(t *testing.T, what string, doc []byte, ident string) {
	t.Helper()
	var d struct {
		Probes []struct {
			Name     string `json:"name"`
			Error    string `json:"error"`
			Scrubbed []struct {
				Rule  string `json:"rule"`
				Count int    `json:"count"`
			} `json:"scrubbed"`
			Data struct {
				Sources []struct {
					Name, Status string
				} `json:"sources"`
				Groups []struct {
					Log, Source, Signature, Example, Level string
				} `json:"groups"`
			} `json:"data"`
		} `json:"probes"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for _, p := range d.Probes {
		if p.Name != "logs" {
			continue
		}
		scrubbed := map[string]int{}
		for _, s := range p.Scrubbed {
			scrubbed[s.Rule] += s.Count
		}
		if scrubbed["config-secret"] == 0 || scrubbed["github-token"] == 0 {
			t.Errorf("%s: the logs probe counts as scrubbed %v", what, scrubbed)
		}
		for _, g := range p.Data.Groups {
			if g.Log == "kmsg" && g.Source == ident {
				if g.Example != ident+": login failed password=[REDACTED:config-secret] token=[REDACTED:github-token]" || g.Level != "error" {
					t.Errorf("%s: the planted line's group: %+v", what, g)
				}
				return
			}
		}
		t.Fatalf("%s: no group of %s in the logs probe (error %q, sources %+v)", what, ident, p.Error, p.Data.Sources)
	}
	t.Fatalf("%s has no logs probe", what)
}

// noSecrets fails the test if a secret is in a file under root (or the
// file root), looking inside what hides text from a plain search: zip
// entries, SQLite rows (the collector deflates probe results) and the
// agent's spool records (DEFLATE-compressed protocol frames). It returns
// how many files it read.
func noSecrets(t *testing.T, root string, secrets []string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == root {
				return nil
			}
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		scanSecrets(t, path, b, secrets)
		if bytes.HasPrefix(b, []byte("SQLite format 3\x00")) {
			scanDatabase(t, path, secrets)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return n
}

// scanSecrets looks for the secrets in b, and in what b holds compressed.
func scanSecrets(t *testing.T, where string, b []byte, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s holds the secret %q", where, s)
		}
	}
	switch {
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Errorf("%s!%s: %v", where, f.Name, err)
				continue
			}
			content, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Errorf("%s!%s: %v", where, f.Name, err)
			}
			scanSecrets(t, where+"!"+f.Name, content, secrets)
		}
	case bytes.HasPrefix(b, []byte("SSP1")) && len(b) > 12: // a spool record
		m, _, err := protocol.Decode(b[12:])
		if err != nil {
			t.Errorf("%s: a spool record that does not decode: %v", where, err)
			return
		}
		j, _ := json.Marshal(m)
		scanSecrets(t, where+" (decoded)", j, secrets)
	case len(b) > 1 && b[0] == 0x01: // a probe results blob, deflated
		if plain, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b[1:])), 64<<20)); err == nil {
			scanSecrets(t, where+" (inflated)", plain, secrets)
		}
	}
}

// scanDatabase looks for the secrets in every value of every table of the
// SQLite database at path, the WAL's committed pages included.
func scanDatabase(t *testing.T, path string, secrets []string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table'")
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	values := 0
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + strings.ReplaceAll(table, `"`, `""`) + `"`)
		if err != nil {
			t.Fatalf("%s: reading %s: %v", path, table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("%s: reading %s: %v", path, table, err)
			}
			for i, v := range vals {
				var b []byte
				switch v := v.(type) {
				case []byte:
					b = v
				case string:
					b = []byte(v)
				default:
					continue
				}
				values++
				scanSecrets(t, fmt.Sprintf("%s: %s.%s", filepath.Base(path), table, cols[i]), b, secrets)
			}
		}
		rows.Close()
	}
	if values == 0 {
		t.Errorf("%s: no values read", path)
	}
}
