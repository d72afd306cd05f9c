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
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the collector's own driver, to read its database

	"github.com/sondehq/sonde/protocol"
)

// leakScan looks for secrets in what the agent and the collector keep and
// send, and in what hides text from a plain search: zip entries, the
// agent's spool records (DEFLATE-compressed protocol frames), SQLite rows
// (the collector deflates probe results) with the WAL's pages. mark, when
// set, is a scrubbed form the data should hold: each scan reports whether
// it saw it, so a test can tell a clean result from one that read nothing.
type leakScan struct {
	t       *testing.T
	secrets []string
	mark    string
	files   int // files read by tree
}

// bytes checks b, where names it in failures, and reports whether it holds
// the mark.
func (s *leakScan) bytes(where string, b []byte) (marked bool) {
	s.t.Helper()
	for _, secret := range s.secrets {
		if i := bytes.Index(b, []byte(secret)); i >= 0 {
			s.t.Errorf("%s holds the secret %q: …%q…", where, secret, b[max(0, i-80):min(len(b), i+len(secret)+20)])
		}
	}
	marked = s.mark != "" && bytes.Contains(b, []byte(s.mark))
	switch {
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			s.t.Errorf("%s: %v", where, err)
			return marked
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				s.t.Errorf("%s!%s: %v", where, f.Name, err)
				continue
			}
			content, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				s.t.Errorf("%s!%s: %v", where, f.Name, err)
			}
			marked = s.bytes(where+"!"+f.Name, content) || marked
		}
	case bytes.HasPrefix(b, []byte("SSP1")) && len(b) > 12: // a spool record
		m, _, err := protocol.Decode(b[12:])
		if err != nil {
			s.t.Errorf("%s: a spool record that does not decode: %v", where, err)
			return marked
		}
		j, _ := json.Marshal(m)
		marked = s.bytes(where+" (decoded)", j) || marked
	case len(b) > 1 && b[0] == 0x01: // a probe results blob, deflated
		if plain, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b[1:])), 64<<20)); err == nil {
			marked = s.bytes(where+" (inflated)", plain) || marked
		}
	}
	return marked
}

// tree checks every regular file under root (or the file root), SQLite
// databases row by row as well, and reports whether one held the mark. A
// root that does not exist is fine; files that vanish while it walks (a
// temporary file, renamed) are skipped.
func (s *leakScan) tree(root string) (marked bool) {
	s.t.Helper()
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		s.files++
		marked = s.bytes(path, b) || marked
		if bytes.HasPrefix(b, []byte("SQLite format 3\x00")) {
			marked = s.database(path) || marked
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("walking %s: %v", root, err)
	}
	return marked
}

// database checks every value of every table of the SQLite database at
// path, the WAL's committed pages included, and reports whether one held
// the mark.
func (s *leakScan) database(path string) (marked bool) {
	s.t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table'")
	if err != nil {
		s.t.Fatalf("%s: %v", path, err)
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
			s.t.Fatalf("%s: reading %s: %v", path, table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				s.t.Fatalf("%s: reading %s: %v", path, table, err)
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
				marked = s.bytes(fmt.Sprintf("%s: %s.%s", filepath.Base(path), table, cols[i]), b) || marked
			}
		}
		rows.Close()
	}
	if values == 0 {
		s.t.Errorf("%s: no values read", path)
	}
	return marked
}
