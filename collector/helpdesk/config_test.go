package helpdesk_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
)

type nop struct{ helpdesk.Connector }

func init() {
	helpdesk.Register("test", func(s helpdesk.Settings) (helpdesk.Connector, error) { return nop{}, nil })
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "token")
	os.WriteFile(secretFile, []byte("s3cret-from-file\n"), 0o600)
	t.Setenv("SONDE_TEST_TOKEN", "s3cret-from-env")
	write := func(body string) string {
		p := filepath.Join(dir, "helpdesks.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cs, ss, err := helpdesk.Load(write(`
connectors:
  - name: one
    kind: test
    url: https://one.example
    secret: {env: SONDE_TEST_TOKEN}
  - name: two
    kind: test
    url: https://two.example
    secret: {file: ` + secretFile + `}
    max_upload: 1000
    timeout: 5s
`))
	if err != nil || len(cs) != 2 {
		t.Fatalf("Load: %v, %d connectors", err, len(cs))
	}
	if ss["one"].Secret != "s3cret-from-env" || ss["two"].Secret != "s3cret-from-file" {
		t.Errorf("secrets: %q, %q", ss["one"].Secret, ss["two"].Secret)
	}
	if ss["one"].MaxUpload != helpdesk.DefaultMaxUpload || ss["one"].Poll != time.Minute || ss["one"].Timeout != 2*time.Minute {
		t.Errorf("defaults: %+v", ss["one"].Config)
	}
	if ss["two"].MaxUpload != 1000 || ss["two"].Timeout != 5*time.Second {
		t.Errorf("two: %+v", ss["two"].Config)
	}
	for _, c := range []struct{ body, want string }{
		{"connectors:\n  - name: x\n    kind: nosuch\n", `kind "nosuch": want one of`},
		{"connectors:\n  - name: 'a b'\n    kind: test\n", "name: want 1–32"},
		{"connectors:\n  - name: x\n    kind: test\n    secret: {env: SONDE_NOT_SET_ANYWHERE}\n", "$SONDE_NOT_SET_ANYWHERE is not set"},
		{"connectors:\n  - name: x\n    kind: test\n    secret: {env: SONDE_TEST_TOKEN, file: /x}\n", "env or file, not both"},
		{"connectors:\n  - name: x\n    kind: test\n    password: hunter2\n", "field password not found"},
		{"connectors:\n  - name: x\n    kind: test\n  - name: x\n    kind: test\n", `two connectors are named "x"`},
		{"connectors:\n  - name: x\n    kind: test\n    max_upload: -1\n", "max_upload must not be negative"},
	} {
		_, _, err := helpdesk.Load(write(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%q) = %v; want %q", c.body, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("an error carries a secret: %v", err)
		}
	}
}
