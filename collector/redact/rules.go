package redact

import (
	"regexp"
	"strings"
)

// rule is one named secret detector: a regular expression, the submatch
// groups that may hold the secret (the first that took part in the match is
// replaced), and an optional check that rejects look-alikes.
type rule struct {
	id     string
	re     *regexp.Regexp
	groups []int
	accept func(s string, m []int, secret string) bool
	// line rules consume a whole line; after a rejection the search resumes
	// at the end of the match instead of at the rejected value.
	line bool
	// trim is cut from the end of the secret span (a trailing comma).
	trim string
}

// markerRE matches a redaction marker.
var markerRE = regexp.MustCompile(`\[REDACTED:[a-z0-9-]+\]`)

// Shared building blocks of the key=value rules.
const (
	kvQuoted  = `"((?:[^"\\\r\n]|\\.)*)"|'([^'\r\n]*)'`
	urlAuthRE = `(?i)\b([a-z][a-z0-9+.\-]*)://[^\s:/?#@"'<>\[\]]*:([^\s/?#"'<>]*)@`
)

// dbSchemes are URL schemes of databases and message brokers.
var dbSchemes = map[string]bool{
	"postgres": true, "postgresql": true, "mysql": true, "mariadb": true, "mongodb": true,
	"mongodb+srv": true, "redis": true, "rediss": true, "amqp": true, "amqps": true,
	"mssql": true, "sqlserver": true, "oracle": true, "cockroachdb": true, "clickhouse": true,
	"memcached": true, "couchdb": true, "neo4j": true, "cassandra": true, "nats": true,
}

// queryNames are URL query parameters that carry secrets although their
// names do not say so.
var queryNames = map[string]bool{
	"sig": true, "signature": true, "x-amz-signature": true, "x-amz-credential": true,
	"x-amz-security-token": true, "x-goog-signature": true, "x-goog-credential": true,
	"code": true, "key": true, "access_token": true, "id_token": true, "refresh_token": true,
}

func acceptURL(db bool) func(string, []int, string) bool {
	return func(s string, m []int, secret string) bool {
		return dbSchemes[strings.ToLower(s[m[2]:m[3]])] == db && !placeholder(secret)
	}
}

func acceptQuery(s string, m []int, secret string) bool {
	name := s[m[2]:m[3]]
	return (queryNames[strings.ToLower(name)] || secretKey(name)) && !placeholder(secret)
}

func acceptKey(s string, m []int, secret string) bool {
	return secretKey(s[m[2]:m[3]]) && !placeholder(secret)
}

// acceptConfig leaves upper-case NAME=value to the env rules and
// Authorization headers to auth-header, which keeps the scheme word.
func acceptConfig(s string, m []int, secret string) bool {
	key := s[m[2]:m[3]]
	if (allUpper(key) && s[m[4]:m[5]] == "=") || strings.HasSuffix(strings.ToLower(key), "authorization") {
		return false
	}
	return secretKey(key) && !placeholder(secret)
}

func acceptNotPlaceholder(_ string, _ []int, secret string) bool {
	return !placeholder(secret)
}

func acceptDigit(_ string, _ []int, secret string) bool {
	return len(secret) >= 8 && hasDigit(secret)
}

// acceptConnString takes Password=/Pwd= only in ;-separated connection strings.
func acceptConnString(s string, m []int, secret string) bool {
	return strings.Contains(lineAt(s, m[0]), ";") && !placeholder(secret)
}

// portLike matches -p values that are ports or port mappings (ssh -p 22,
// docker -p 127.0.0.1:8080:80/tcp).
var portLike = regexp.MustCompile(`^[0-9.:\-\[\]]+(?:/(?:tcp|udp|sctp))?$`)

// passwordPTools are commands whose -p flag takes a password.
var passwordPTools = regexp.MustCompile(`\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump|sshpass)\b`)

// acceptFlag takes --password x, --api-key=x, -Dx.password=x, the -p of
// mysql and sshpass, and the password half of curl -u user:password.
func acceptFlag(s string, m []int, secret string) bool {
	name := strings.TrimLeft(s[m[2]:m[3]], "-")
	v := strings.Trim(secret, `"'`)
	switch name {
	case "p":
		return passwordPTools.MatchString(lineAt(s, m[0])) && !portLike.MatchString(v) && !placeholder(v)
	case "u", "user":
		i := strings.IndexByte(v, ':')
		return i >= 0 && strings.Trim(v[i+1:], "0123456789") != "" && strings.Contains(lineAt(s, m[0]), "curl")
	}
	return secretKey(name) && !placeholder(v)
}

// acceptMySQLAttached takes -pSECRET on mysql-like command lines.
func acceptMySQLAttached(s string, m []int, secret string) bool {
	return passwordPTools.MatchString(lineAt(s, m[0])) && !placeholder(secret)
}

// secretRules are the secret detectors, most specific first: when matches
// overlap, the marker names the earliest rule, and every rule is counted.
var secretRules = []*rule{
	{id: "gcp-private-key", re: regexp.MustCompile(`"private_key"[ \t]*:[ \t]*"((?:[^"\\\r\n]|\\.)+)"`), groups: []int{1}},
	// An unterminated block is redacted to the end of the text.
	{id: "pem-private-key", re: regexp.MustCompile(`-----BEGIN[ A-Z0-9]*PRIVATE KEY[ A-Z]*-----(?:[\s\S]*?-----END[ A-Z0-9]*PRIVATE KEY[ A-Z]*-----|[\s\S]*)`), groups: []int{0}},
	{id: "age-secret-key", re: regexp.MustCompile(`\bAGE-SECRET-KEY-1[0-9A-Z]{58}\b`), groups: []int{0}},
	{id: "jwt", re: regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*`), groups: []int{0}},
	{id: "github-token", re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})`), groups: []int{0}},
	{id: "gitlab-token", re: regexp.MustCompile(`\bgl(?:pat|dt|rt|ptt|ft|cbt|imt|soat)-[A-Za-z0-9_\-]{20,}`), groups: []int{0}},
	{id: "slack-webhook", re: regexp.MustCompile(`(?i)hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9/_\-]+)`), groups: []int{1}},
	{id: "slack-token", re: regexp.MustCompile(`\b(?:xox[abposre]-[A-Za-z0-9\-]{10,}|xapp-[0-9]-[A-Za-z0-9\-]{10,})`), groups: []int{0}},
	{id: "stripe-key", re: regexp.MustCompile(`\b(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})`), groups: []int{0}},
	{id: "google-api-key", re: regexp.MustCompile(`\bAIza[0-9A-Za-z_\-]{35}`), groups: []int{0}},
	{id: "sendgrid-key", re: regexp.MustCompile(`\bSG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}`), groups: []int{0}},
	{id: "twilio-key", re: regexp.MustCompile(`\bSK[0-9a-fA-F]{32}\b`), groups: []int{0}},
	{id: "npm-token", re: regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}\b`), groups: []int{0}},
	{id: "pypi-token", re: regexp.MustCompile(`\bpypi-AgE[A-Za-z0-9_\-]{50,}`), groups: []int{0}},
	{id: "openai-api-key", re: regexp.MustCompile(`\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_\-]{20,}`), groups: []int{0}, accept: acceptDigit},
	{id: "vault-token", re: regexp.MustCompile(`\bhv[sbr]\.[A-Za-z0-9_\-]{24,}`), groups: []int{0}},
	{id: "aws-access-key-id", re: regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`), groups: []int{0}},
	{id: "aws-secret-access-key", re: regexp.MustCompile(`(?i)(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)["']?[ \t]*(?:=>|[:=])[ \t]*["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)`), groups: []int{1}},
	{id: "azure-account-key", re: regexp.MustCompile(`(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)[ \t]*=[ \t]*([^;"'\s]+)`), groups: []int{1}, accept: acceptNotPlaceholder},
	{id: "connection-string-password", re: regexp.MustCompile(`(?i)(?:^|[;"'\s{])(?:password|pwd)[ \t]*=[ \t]*([^;"'\r\n]+)`), groups: []int{1}, accept: acceptConnString, trim: " \t"},
	{id: "db-url-password", re: regexp.MustCompile(urlAuthRE), groups: []int{2}, accept: acceptURL(true)},
	{id: "url-password", re: regexp.MustCompile(urlAuthRE), groups: []int{2}, accept: acceptURL(false)},
	{id: "url-query-secret", re: regexp.MustCompile(`[?&]([A-Za-z0-9_.\-]+)=([^&\s#"'<>]+)`), groups: []int{2}, accept: acceptQuery},
	{id: "auth-header", re: regexp.MustCompile(`(?i)\b(?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?((?:bearer|basic|digest|negotiate|ntlm|token|apikey|aws4-hmac-sha256)[ \t]+)?([^"'\r\n]+)`), groups: []int{2}, accept: acceptNotPlaceholder, trim: " \t"},
	{id: "bearer-token", re: regexp.MustCompile(`(?i)\bbearer[ \t]+([A-Za-z0-9\-._~+/]+=*)`), groups: []int{1}, accept: acceptDigit},
	{id: "cookie-header", re: regexp.MustCompile(`(?i)\b(?:set-)?cookie["']?[ \t]*:[ \t]*["']?([^"'\r\n]+)`), groups: []int{1}, accept: acceptNotPlaceholder, trim: " \t"},
	{id: "docker-auth", re: regexp.MustCompile(`"(?:auth|identitytoken)"[ \t]*:[ \t]*"([A-Za-z0-9+/=_\-]{8,})"`), groups: []int{1}},
	{id: "cli-flag-secret", re: regexp.MustCompile(`(?:^|[\s"'])(--?[A-Za-z][A-Za-z0-9_.\-]*)(?:=("[^"\r\n]*"|'[^'\r\n]*'|[^\s"']*)|[ \t]+("[^"\r\n]*"|'[^'\r\n]*'|[^\s"'\-][^\s"']*))`), groups: []int{2, 3}, accept: acceptFlag},
	{id: "cli-flag-secret", re: regexp.MustCompile(`(?:^|\s)-p([^\s"'][^\s"']*)`), groups: []int{1}, accept: acceptMySQLAttached},
	{id: "env-secret", re: regexp.MustCompile(`(?m)^[ \t]*(?:export[ \t]+|set[ \t]+|\$env:)?([A-Z_][A-Z0-9_]*)[ \t]*=[ \t]*(\S.*?)[ \t\r]*$`), groups: []int{2}, accept: acceptKey, line: true},
	{id: "env-secret", re: regexp.MustCompile(`(?:^|[\s;&|(])([A-Z_][A-Z0-9_]*)=("[^"\r\n]*"|'[^'\r\n]*'|[^\s"';&|)]+)`), groups: []int{2}, accept: acceptKey},
	{id: "config-secret", re: regexp.MustCompile(`(?m)^[ \t]*(?:-[ \t]+)?["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?[ \t]*([:=])[ \t]*([^\s"'].*?)[ \t\r]*$`), groups: []int{3}, accept: acceptConfig, line: true},
	{id: "config-secret", re: regexp.MustCompile(`(?:^|[^A-Za-z0-9_.\-])["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?[ \t]*(=>|:=|[:=])[ \t]*(?:` + kvQuoted + `|([^\s"'&;)}\]]+))`), groups: []int{3, 4, 5}, accept: acceptConfig, trim: ","},
}
