package redact

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzCanary is planted in every fuzz input inside a secret of some kind.
const fuzzCanary = "CANARYFZ7q"

// plantings are the secret lines a fuzz input carries, each holding
// fuzzCanary in the secret material.
var plantings = []string{
	"password=" + fuzzCanary + "pw",
	"DB_PASSWORD=" + fuzzCanary + " with spaces",
	"export API_TOKEN='" + fuzzCanary + "'",
	"  secret: \"" + fuzzCanary + "\\\"q\"",
	"mysql -u app -p" + fuzzCanary,
	"app --client-secret " + fuzzCanary + " --v",
	"app --token=" + fuzzCanary,
	"https://u:" + fuzzCanary + "@h.example.com/x",
	"postgres://app:" + fuzzCanary + "@db/app",
	"GET /cb?code=1&access_token=" + fuzzCanary + "&x=1",
	"Authorization: Bearer " + fuzzCanary + "123",
	"Cookie: sid=" + fuzzCanary,
	"ghp_" + fuzzCanary + "aaaaaaaaaaaaaaaaaaaaaaaaaa",
	"AKIA" + strings.ToUpper(fuzzCanary) + "ABCDEF",
	"xoxb-" + fuzzCanary + "-123456",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0." + fuzzCanary,
	"-----BEGIN PRIVATE KEY-----\nMII" + fuzzCanary + "\n-----END PRIVATE KEY-----",
	"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl" + fuzzCanary,
	"Server=s;Password=" + fuzzCanary + ";",
	"AccountName=a;AccountKey=" + fuzzCanary + "==;",
	`{"private_key":"` + fuzzCanary + `\n"}`,
	`msg="{\"user\":\"u\",\"password\":\"` + fuzzCanary + `\"}"`,
	"smtp:\n  password: |\n    " + fuzzCanary + "\n    more",
}

// survives reports whether any part of the canary is in out.
func survives(out string) bool {
	return strings.Contains(strings.ToUpper(out), strings.ToUpper(fuzzCanary[:8]))
}

func fuzzSeeds(f *testing.F) {
	f.Add("", "", uint8(0), false)
	f.Add("password policy", "token expired", uint8(3), true)
	f.Add("-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", uint8(16), false)
	f.Add(`"private_key":"`, `\`, uint8(20), true)
	f.Add("Authorization:", "\r", uint8(10), true)
	f.Add("--password", "--x", uint8(5), false)
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*"))
	for i, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(string(b), "x=1", uint8(i), i%2 == 0)
		}
	}
}

func FuzzText(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, prefix, suffix string, kind uint8, pseudo bool) {
		if strings.Contains(strings.ToUpper(prefix+suffix), strings.ToUpper(fuzzCanary[:8])) {
			return
		}
		r := New(Options{Pseudonymize: pseudo, Salt: []byte("fuzz")})
		plant := plantings[int(kind)%len(plantings)]
		in := prefix + "\n" + plant + "\n" + suffix
		out := r.Text(in)
		if survives(out) {
			t.Fatalf("canary survives\n in: %q\nout: %q", in, out)
		}
		rep, err := json.Marshal(r.Report())
		if err != nil || survives(string(rep)) {
			t.Fatalf("report leaks or fails: %s %v", rep, err)
		}
	})
}

func FuzzJSON(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data, s string, kind uint8, pseudo bool) {
		if strings.Contains(strings.ToUpper(data+s), strings.ToUpper(fuzzCanary[:8])) {
			return
		}
		r := New(Options{Pseudonymize: pseudo, Salt: []byte("fuzz")})
		if out := r.JSON([]byte(data)); !json.Valid(out) {
			t.Fatalf("JSON(%q) = %q, not valid JSON", data, out)
		}
		plant := plantings[int(kind)%len(plantings)]
		doc, err := json.Marshal(map[string]any{
			"note":     s,
			"password": fuzzCanary + s,
			"argv":     []string{s, "--token", fuzzCanary, s},
			"env":      s + "\n" + plant,
			s:          map[string]any{"api_key": []any{s, fuzzCanary}},
			"raw":      json.RawMessage(orNull(data)),
		})
		if err != nil {
			return
		}
		out := r.JSON(doc)
		if !json.Valid(out) {
			t.Fatalf("output is not JSON: %s", out)
		}
		if survives(string(out)) {
			t.Fatalf("canary survives\n in: %s\nout: %s", doc, out)
		}
		rep, _ := json.Marshal(r.Report())
		if survives(string(rep)) {
			t.Fatalf("report leaks: %s", rep)
		}
	})
}

// orNull returns data if it is one JSON value, else null.
func orNull(data string) string {
	if json.Valid([]byte(data)) {
		return data
	}
	return "null"
}
