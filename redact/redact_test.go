package redact

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

func TestFailClosed(t *testing.T) {
	bad := map[string]string{
		"truncated":      `{"cmdline": "mysql -pCANARY90pw", "user": `,
		"not json":       `mysql -pCANARY90pw`,
		"trailing":       `{"a": 1} CANARY90pw`,
		"two values":     `{"a": 1} {"b": "CANARY90pw"}`,
		"bad escape":     `{"a": "\x CANARY90pw"}`,
		"unquoted key":   `{a: "CANARY90pw"}`,
		"too deep":       strings.Repeat("[", maxDepth+1) + `"CANARY90pw"` + strings.Repeat("]", maxDepth+1),
		"single quoted":  `{'a': 'CANARY90pw'}`,
		"trailing comma": `{"a": "CANARY90pw",}`,
	}
	for name, in := range bad {
		r := New(Options{})
		if got := string(r.JSON([]byte(in))); got != Unparseable {
			t.Errorf("%s: JSON = %s, want %s", name, got, Unparseable)
		}
		if n := r.Report().Count("unparseable"); n != 1 {
			t.Errorf("%s: unparseable counted %d, want 1", name, n)
		}
	}

	d := &protocol.Document{Kind: "full", Probes: []protocol.ProbeJSON{
		{Name: "processes", Data: json.RawMessage(bad["truncated"])},
		{Name: "cpu", Data: json.RawMessage(`{"model":"AMD EPYC","cores":2}`)},
		{Name: "services", Error: "timeout"},
	}}
	r := New(Options{})
	out := r.Document(d)
	if string(out.Probes[0].Data) != Unparseable {
		t.Errorf("unparseable probe data = %s", out.Probes[0].Data)
	}
	if string(out.Probes[1].Data) != `{"model":"AMD EPYC","cores":2}` {
		t.Errorf("valid probe data changed: %s", out.Probes[1].Data)
	}
	if out.Probes[2].Data != nil || out.Probes[2].Error != "timeout" {
		t.Errorf("probe without data = %+v", out.Probes[2])
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatalf("redacted document does not marshal: %v", err)
	}
	if bytes.Contains(b, []byte("CANARY90")) {
		t.Errorf("unparseable data leaked: %s", b)
	}
	rep := r.Report()
	if rep.Count("unparseable") != 1 || len(rep.Rules) != 1 || rep.Rules[0].Where[0] != "processes" || rep.Rules[0].Kind != KindUnparseable {
		t.Errorf("report = %+v", rep)
	}
	if string(d.Probes[0].Data) != bad["truncated"] {
		t.Error("Document modified its input")
	}
}

func TestFalsePositives(t *testing.T) {
	keep := []string{
		"password policy updated for 3 users",
		"openssl 3.0.11-1~deb12u2 amd64 sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"token expired; please log in again",
		"Authorization failed for user bob: the bearer of this token is unknown",
		"mkdir -p /var/run/app && ssh -p 2222 db1 && docker run -p 127.0.0.1:8080:80/tcp nginx",
		"max_tokens=4096 token_ttl=3600 password_min_length=12 auth_method=password",
		"PWD=/srv/app SSH_AUTH_SOCK=/tmp/ssh-q1w2e3/agent.1 XDG_SESSION_TYPE=tty",
		"kernel 6.18.44-fc-v782 built with go1.26.8, version 1.2.3.4.5, v10.0.0.1",
		"GET /api/v1/agents?page=2&limit=50 200 3ms",
		"loopback 127.0.0.1 ::1 any 0.0.0.0 :: mask 255.255.255.0 mcast ff02::1 at 10:30:00",
		"std::vector<int> and Foo::bar() in main.cc:42",
	}
	for _, pseudo := range []bool{false, true} {
		r := New(Options{Pseudonymize: pseudo})
		for _, s := range keep {
			if got := r.Text(s); got != s {
				t.Errorf("pseudonymize=%v: Text changed\n in: %s\nout: %s", pseudo, s, got)
			}
		}
		pkgs := `{"packages":[{"name":"openssl","version":"3.0.11-1~deb12u2","sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}],"password_policy":"strict","token_ttl":3600}`
		if got := string(r.JSON([]byte(pkgs))); got != pkgs {
			t.Errorf("pseudonymize=%v: JSON changed\n in: %s\nout: %s", pseudo, pkgs, got)
		}
		if rep := r.Report(); len(rep.Rules) != 0 {
			t.Errorf("pseudonymize=%v: report not empty: %+v", pseudo, rep)
		}
	}
}

func TestJSONKeepsShape(t *testing.T) {
	in := `{"z":1,"a":[1.50,-2e10,true,false,null,{}],"big":12345678901234567890,"html":"<a&b>","é":"ü\u0001","password":"hunter22","nested":{"credentials":{"user":"svc","pin":1234,"ok":true}}}`
	r := New(Options{})
	out := string(r.JSON([]byte(in)))
	want := `{"z":1,"a":[1.50,-2e10,true,false,null,{}],"big":12345678901234567890,"html":"<a&b>","é":"ü\u0001","password":"[REDACTED:secret-field]","nested":{"credentials":{"user":"[REDACTED:secret-field]","pin":"[REDACTED:secret-field]","ok":true}}}`
	if out != want {
		t.Errorf("JSON\n got %s\nwant %s", out, want)
	}
	rep := r.Report()
	if rep.Count(ruleSecretField) != 3 {
		t.Errorf("secret-field counted %d, want 3", rep.Count(ruleSecretField))
	}
	wantWhere := []string{"json:/password", "json:/nested/credentials/user", "json:/nested/credentials/pin"}
	if got := rep.Rules[0].Where; strings.Join(got, " ") != strings.Join(wantWhere, " ") {
		t.Errorf("where = %q, want %q", got, wantWhere)
	}
	for _, v := range []string{`null`, `"null"`, `[1,2]`, `""`, `0`, `"text"`} {
		if got := string(New(Options{}).JSON([]byte(v))); got != v {
			t.Errorf("JSON(%s) = %s", v, got)
		}
	}
}

func TestJSONKeysAndPlaceholders(t *testing.T) {
	in := `{"https://u:CANARY91pw@h/x": 1, "password": "", "token": "${API_TOKEN}", "secret": "********", "api_key": "<api-key>"}`
	r := New(Options{})
	out := string(r.JSON([]byte(in)))
	want := `{"https://u:[REDACTED:url-password]@h/x":1,"password":"","token":"${API_TOKEN}","secret":"********","api_key":"<api-key>"}`
	if out != want {
		t.Errorf("JSON\n got %s\nwant %s", out, want)
	}
	rep, _ := json.Marshal(r.Report())
	if bytes.Contains(rep, []byte("CANARY91")) {
		t.Errorf("report leaks a secret from a key: %s", rep)
	}
}

func TestSecretKey(t *testing.T) {
	secret := []string{"password", "DB_PASSWORD", "PGPASSWORD", "MYSQL_PWD", "Pwd", "passwd", "clientSecret",
		"client_secret", "api-key", "apiKey", "APIKey", "X-Auth-Token", "access_token", "AWS_ACCESS_KEY_ID",
		"private_key", "privateKey", "credentials", "Cookie", "Authorization", "auth", "session",
		"connection_string", "ConnectionString", "AccountKey", "GITHUB_TOKEN", "_authToken", "smtp_pass",
		"keyStorePassword", "sas"}
	harmless := []string{"password_policy", "token_url", "token_uri", "max_tokens", "PWD", "OLDPWD", "tokenizer",
		"SSH_AUTH_SOCK", "auth_method", "password_file", "key", "sort_key", "monkey", "user", "author",
		"authentication", "passenger", "bypass", "XDG_SESSION_TYPE", "secret_name", "token_endpoint", ""}
	for _, k := range secret {
		if !secretKey(k) {
			t.Errorf("secretKey(%q) = false", k)
		}
	}
	for _, k := range harmless {
		if secretKey(k) {
			t.Errorf("secretKey(%q) = true", k)
		}
	}
}

func TestRulesAndMarkers(t *testing.T) {
	ids := Rules()
	if len(ids) < 25 {
		t.Errorf("%d secret rules, want >= 25", len(ids))
	}
	for _, id := range ids {
		if !markerRE.MatchString(marker(id)) {
			t.Errorf("marker of %q does not match markerRE", id)
		}
	}
	// Text is idempotent: markers and pseudonyms are not redacted again.
	r := New(Options{Pseudonymize: true})
	in := "password=hunter22 from 10.1.2.3 mail bob@example.org token: ghp_CANARY92aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	once := r.Text(in)
	if twice := r.Text(once); twice != once {
		t.Errorf("Text is not idempotent:\n%s\n%s", once, twice)
	}
}

func TestLongValues(t *testing.T) {
	long := "CANARY94" + strings.Repeat("x9", 400)
	for _, in := range []string{
		`password: "` + long + `"`,
		`{"token": "` + long + `", "n": 1}`,
		"export API_TOKEN='" + long + "'",
		"app --password '" + long + "' --v",
		"Authorization: Bearer " + long,
		"GET /x?access_token=" + long + "&y=1",
		"Server=s;Password=" + long + ";Encrypt=true",
	} {
		if out := New(Options{}).Text(in); strings.Contains(out, "CANARY94") || strings.Contains(out, "x9x9x9x9") {
			t.Errorf("long value survives: %.80s…", out)
		}
	}
}

func TestUnterminatedPrivateKey(t *testing.T) {
	in := "config:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7CANARY93\nzz_tail.more CANARY93"
	out := New(Options{}).Text(in)
	if out != "config:\n[REDACTED:pem-private-key]" {
		t.Errorf("unterminated key: %q", out)
	}
}

func TestConcurrentUse(t *testing.T) {
	r := New(Options{Pseudonymize: true})
	done := make(chan bool)
	for i := 0; i < 4; i++ {
		go func() {
			for j := 0; j < 50; j++ {
				r.Text("from 10.0.0.1 password=x1234567")
				r.JSON([]byte(`{"ip":"10.0.0.2","token":"abc12345"}`))
			}
			done <- true
		}()
	}
	for i := 0; i < 4; i++ {
		<-done
	}
	if n := r.Report().Count("ipv4"); n != 400 {
		t.Errorf("ipv4 counted %d, want 400", n)
	}
}
