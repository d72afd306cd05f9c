package redact

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// corpusFiles are the corpus encodings and the entry point each goes through.
var corpusFiles = []struct{ file, encoding, entry string }{
	{"env.txt", "env lines", "text"},
	{"argv.txt", "command lines", "text"},
	{"urls.txt", "URLs", "text"},
	{"config.json", "JSON", "json"},
	{"config.yaml", "YAML", "text"},
	{"app.ini", "INI", "text"},
	{"app.log", "log lines", "text"},
	{"document.json", "snapshot document", "document"},
}

// canary is one planted secret and the rule expected to find it.
type canary struct{ rule, secret string }

func loadCanaries(t testing.TB) []canary {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "corpus", "canaries.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cs []canary
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rule, secret, ok := strings.Cut(line, " ")
		if !ok || len(secret) < 8 {
			t.Fatalf("bad canary line %q", line)
		}
		cs = append(cs, canary{rule, secret})
	}
	return cs
}

// leaks returns the 8-byte windows of the canary found in out.
func leaks(out, secret string) []string {
	var found []string
	for i := 0; i+8 <= len(secret); i++ {
		if w := secret[i : i+8]; strings.Contains(out, w) {
			found = append(found, w)
		}
	}
	return found
}

// runCorpus sends one corpus file through its entry point.
func runCorpus(t *testing.T, r *Redactor, file, entry string, in []byte) string {
	t.Helper()
	switch entry {
	case "json":
		out := r.JSON(in)
		if !json.Valid(out) {
			t.Fatalf("%s: output is not JSON: %s", file, out)
		}
		return string(out)
	case "document":
		var d protocol.Document
		if err := json.Unmarshal(in, &d); err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(r.Document(&d))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	return r.TextAt(string(in), "corpus:"+file)
}

func TestCorpus(t *testing.T) {
	canaries := loadCanaries(t)
	kinds, encodings, seen := map[string]bool{}, map[string]bool{}, map[string]int{}
	for _, mode := range []Options{{}, {Pseudonymize: true, Salt: []byte("corpus")}} {
		for _, cf := range corpusFiles {
			in, err := os.ReadFile(filepath.Join("testdata", "corpus", cf.file))
			if err != nil {
				t.Fatal(err)
			}
			r := New(mode)
			out := runCorpus(t, r, cf.file, cf.entry, in)
			rep := r.Report()
			repJSON, _ := json.Marshal(rep)
			want := map[string]int{}
			for _, c := range canaries {
				n := strings.Count(string(in), c.secret)
				if n == 0 {
					continue
				}
				want[c.rule] += n
				kinds[c.rule], encodings[cf.encoding] = true, true
				if !mode.Pseudonymize {
					seen[c.secret] += n
				}
				if l := leaks(out, c.secret); len(l) > 0 {
					t.Errorf("%s (pseudonymize=%v): %s canary %q leaks %q\n%s", cf.file, mode.Pseudonymize, c.rule, c.secret, l, out)
				}
				if l := leaks(string(repJSON), c.secret); len(l) > 0 {
					t.Errorf("%s: report leaks %q of %q: %s", cf.file, l, c.secret, repJSON)
				}
			}
			for rule, n := range want {
				if got := rep.Count(rule); got < n {
					t.Errorf("%s (pseudonymize=%v): rule %s counted %d, want >= %d\nreport: %s\noutput:\n%s", cf.file, mode.Pseudonymize, rule, got, n, repJSON, out)
				}
			}
		}
	}
	for _, c := range canaries {
		if seen[c.secret] != 1 {
			t.Errorf("canary %q occurs %d times in the corpus, want once", c.secret, seen[c.secret])
		}
	}
	if len(kinds) < 25 || len(encodings) < 6 {
		t.Errorf("corpus covers %d kinds in %d encodings, want >= 25 in >= 6", len(kinds), len(encodings))
	}
}

// TestCorpusKeepsContext checks that redaction is surgical: the text around
// a secret and ordinary lines survive.
func TestCorpusKeepsContext(t *testing.T) {
	keep := map[string][]string{
		"env.txt":     {"HOME=/home/deploy", "PWD=/srv/app", "PATH=/usr/local/bin:/usr/bin:/bin", "export GITHUB_TOKEN=[REDACTED:github-token]", "postgres://app:[REDACTED:db-url-password]@db.internal:5432/app"},
		"argv.txt":    {"--defaults-file=/etc/mysql/my.cnf --port 3306", "-p 8080:80 nginx:1.25", "ssh -p 2222 admin@bastion", "mkdir -p /var/run/app", "--password [REDACTED:cli-flag-secret] --verbose"},
		"urls.txt":    {"https://deploy:[REDACTED:url-password]@git.example.com/org/repo.git", "https://www.example.com/docs/page?lang=en&page=2", "&X-Amz-Expires=300", "?state=xyz&access_token="},
		"config.json": {`"password_policy":"strict"`, `"token_ttl":3600`, `"max_tokens":4096`, `"token_uri":"https://oauth2.googleapis.com/token"`, `"--verbose"`, `"HOME=/root"`},
		"config.yaml": {"cert_file: /etc/app/tls.crt", "url: https://gitlab.example.com", "addr: https://vault.internal:8200"},
		"app.ini":     {"host = db.internal", "key_file = /etc/app/tls.key", "client_id = sonde-agent"},
		"app.log":     {"password policy updated for 3 users", "token expired, please log in again", "user=bob password=[REDACTED:config-secret] attempts=3"},
	}
	for file, wants := range keep {
		in, err := os.ReadFile(filepath.Join("testdata", "corpus", file))
		if err != nil {
			t.Fatal(err)
		}
		entry := "text"
		if strings.HasSuffix(file, ".json") {
			entry = "json"
		}
		out := runCorpus(t, New(Options{}), file, entry, in)
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lost %q:\n%s", file, w, out)
			}
		}
	}
}
