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
	// value, when set, is matched (anchored) where re ends, and groups index
	// its submatches: re finds only the name, so names are found in one pass
	// and a rejected name costs no scan of its value.
	value *regexp.Regexp
	// span, when set, computes the secret from the match instead of groups;
	// it returns noSpan, noSpan when there is none.
	span func(s string, m []int) (int, int)
	// trim is cut from the end of the secret span (a trailing comma).
	trim string
	// hints are lower-case literals of which every match contains one; a
	// text that has none of them skips the rule.
	hints []string
}

// markerRE matches a redaction marker.
var markerRE = regexp.MustCompile(`\[REDACTED:[a-z0-9-]+\]`)

// urlAuthRE matches scheme://user:password@.
const urlAuthRE = `(?i)\b([a-z][a-z0-9+.\-]*)://[^\s:/?#@"'<>\[\]]*:([^\s/?#"'<>]*)@`

// kvReference is a whole reference or mask that an unquoted name=value
// value would cut at its closing bracket — ${NAME}, {{ .Name }}, %(name)s,
// [REDACTED] — taken whole so that placeholder sees it and keeps it.
const kvReference = `(\$\{[^{}\s]*\}|\{\{[^{}\r\n]*\}\}|%\([^()\s]*\)s|\[[A-Za-z]+\])`

// Values of the name=value rules, anchored.
var (
	kvValue     = regexp.MustCompile(`^[ \t]*(?:\\"((?:[^"\\\r\n]|\\[^"\r\n])*)\\"|"((?:[^"\\\r\n]|\\.)*)"|'([^'\r\n]*)'|` + kvReference + `|([^\s"'&;)}\]\\][^\s"'&;)}\]]*))`)
	flagValue   = regexp.MustCompile(`^(?:=("[^"\r\n]*"|'[^'\r\n]*'|[^\s"']*)|[ \t]+("[^"\r\n]*"|'[^'\r\n]*'|[^\s"'\-][^\s"']*))`)
	shellValue  = regexp.MustCompile(`^("[^"\r\n]*"|'[^'\r\n]*'|[^\s"';&|)]+)`)
	lineValue   = regexp.MustCompile(`^([^"'\r\n]+)`)
	tokenValue  = regexp.MustCompile(`^([A-Za-z0-9\-._~+/]+=*)`)
	queryValue  = regexp.MustCompile(`^([^&\s#"'<>]+)`)
	listValue   = regexp.MustCompile(`^[ \t]*([^;"'\r\n]+)`)
	azureValue  = regexp.MustCompile(`^[ \t]*([^;"'\s]+)`)
	attachValue = regexp.MustCompile(`^([^\s"']+)`)
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

// acceptURL takes URL passwords of database schemes (db) or of the others.
func acceptURL(db bool) func(string, []int, string) bool {
	return func(s string, m []int, secret string) bool {
		return dbSchemes[strings.ToLower(s[m[2]:m[3]])] == db && !placeholder(secret)
	}
}

// acceptQuery takes query parameters named like secrets or known to carry one.
func acceptQuery(s string, m []int, secret string) bool {
	name := s[m[2]:m[3]]
	return (queryNames[strings.ToLower(name)] || secretKey(name)) && !placeholder(secret)
}

// acceptKey takes values of names that look secret.
func acceptKey(s string, m []int, secret string) bool {
	return secretKey(s[m[2]:m[3]]) && !placeholder(secret)
}

// acceptConfig takes a name that starts a word, and leaves upper-case
// NAME=value to the env rules, --name=value to the flag rule and
// Authorization headers to auth-header, which keeps the scheme word.
func acceptConfig(s string, m []int, secret string) bool {
	key, before := s[m[2]:m[3]], byteAt(s, m[0]-1)
	if wordByte(before) || before == '.' || (allUpper(key) && s[m[4]:m[5]] == "=") ||
		strings.HasSuffix(strings.ToLower(key), "authorization") {
		return false
	}
	return secretKey(key) && !placeholder(secret)
}

// acceptNotPlaceholder takes any value but a placeholder.
func acceptNotPlaceholder(_ string, _ []int, secret string) bool {
	return !placeholder(secret)
}

// acceptDigit takes token-like values: 8 bytes or more, with a digit.
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
// mysql and sshpass, and curl -u user:password (the whole credential).
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

// acceptBlockKey takes YAML block scalars under secret-looking keys.
func acceptBlockKey(s string, m []int, _ string) bool {
	return secretKey(s[m[4]:m[5]])
}

// noSpan is a span's start and end when it finds no secret.
const noSpan = -1

// yamlBlock returns the lines of the YAML block scalar that starts after
// match m: the following lines indented deeper than the key, blank lines
// included, trailing blank lines excluded.
func yamlBlock(s string, m []int) (int, int) {
	indent, st := m[3]-m[2], m[1]+1
	if m[1] >= len(s) || s[m[1]] != '\n' {
		return noSpan, noSpan
	}
	en := st
	for pos := st; pos < len(s); {
		end := strings.IndexByte(s[pos:], '\n')
		if end < 0 {
			end = len(s) - pos
		}
		line := strings.TrimRight(s[pos:pos+end], " \t\r")
		if line != "" {
			if len(line)-len(strings.TrimLeft(line, " \t")) <= indent {
				break
			}
			en = pos + len(line)
		}
		pos += end + 1
	}
	if en == st {
		return noSpan, noSpan
	}
	return en - len(strings.TrimLeft(s[st:en], " \t\r\n")), en
}

// acceptMySQLAttached takes -pSECRET on mysql-like command lines.
func acceptMySQLAttached(s string, m []int, secret string) bool {
	return passwordPTools.MatchString(lineAt(s, m[0])) && !placeholder(secret)
}

// secretRules are the secret detectors, most specific first: when matches
// overlap, the marker names the earliest rule, and every rule is counted.
var secretRules = []*rule{
	{id: "gcp-private-key", re: regexp.MustCompile(`"private_key"[ \t]*:[ \t]*"((?:[^"\\\r\n]|\\.)+)"`), groups: []int{1}, hints: []string{"private_key"}},
	// An unterminated block is redacted to the end of the text.
	{id: "pem-private-key", re: regexp.MustCompile(`-----BEGIN[ A-Z0-9]*PRIVATE KEY[ A-Z]*-----(?:[\s\S]*?-----END[ A-Z0-9]*PRIVATE KEY[ A-Z]*-----|[\s\S]*)`), groups: []int{0}, hints: []string{"private key"}},
	{id: "age-secret-key", re: regexp.MustCompile(`\bAGE-SECRET-KEY-1[0-9A-Z]{58}\b`), groups: []int{0}, hints: []string{"age-secret-key-1"}},
	{id: "jwt", re: regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*`), groups: []int{0}, hints: []string{"eyj"}},
	{id: "github-token", re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})`), groups: []int{0}, hints: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}},
	{id: "gitlab-token", re: regexp.MustCompile(`\bgl(?:pat|dt|rt|ptt|ft|cbt|imt|soat)-[A-Za-z0-9_\-]{20,}`), groups: []int{0}, hints: []string{"gl"}},
	{id: "slack-webhook", re: regexp.MustCompile(`(?i)hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9/_\-]+)`), groups: []int{1}, hints: []string{"hooks.slack.com/"}},
	{id: "slack-token", re: regexp.MustCompile(`\b(?:xox[abposre]-[A-Za-z0-9\-]{10,}|xapp-[0-9]-[A-Za-z0-9\-]{10,})`), groups: []int{0}, hints: []string{"xox", "xapp-"}},
	{id: "stripe-key", re: regexp.MustCompile(`\b(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})`), groups: []int{0}, hints: []string{"sk_", "rk_", "whsec_"}},
	{id: "google-api-key", re: regexp.MustCompile(`\bAIza[0-9A-Za-z_\-]{35}`), groups: []int{0}, hints: []string{"aiza"}},
	{id: "sendgrid-key", re: regexp.MustCompile(`\bSG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}`), groups: []int{0}, hints: []string{"sg."}},
	{id: "twilio-key", re: regexp.MustCompile(`\bSK[0-9a-fA-F]{32}\b`), groups: []int{0}, hints: []string{"sk"}},
	{id: "npm-token", re: regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}\b`), groups: []int{0}, hints: []string{"npm_"}},
	{id: "pypi-token", re: regexp.MustCompile(`\bpypi-AgE[A-Za-z0-9_\-]{50,}`), groups: []int{0}, hints: []string{"pypi-age"}},
	{id: "openai-api-key", re: regexp.MustCompile(`\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_\-]{20,}`), groups: []int{0}, accept: acceptDigit, hints: []string{"sk-"}},
	{id: "vault-token", re: regexp.MustCompile(`\bhv[sbr]\.[A-Za-z0-9_\-]{24,}`), groups: []int{0}, hints: []string{"hvs.", "hvb.", "hvr."}},
	{id: "aws-access-key-id", re: regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`), groups: []int{0}, hints: []string{"akia", "asia", "abia", "acca"}},
	{id: "aws-secret-access-key", re: regexp.MustCompile(`(?i)(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)["']?[ \t]*(?:=>|[:=])[ \t]*["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)`), groups: []int{1}, hints: []string{"secret"}},
	{id: "azure-account-key", re: regexp.MustCompile(`(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)[ \t]*=`), value: azureValue, groups: []int{1}, accept: acceptNotPlaceholder, hints: []string{"accountkey", "sharedaccesskey", "sharedaccesssignature"}},
	{id: "connection-string-password", re: regexp.MustCompile(`(?i)(?:^|[;"'\s{])(?:password|pwd)[ \t]*=`), value: listValue, groups: []int{1}, accept: acceptConnString, trim: " \t", hints: []string{"password", "pwd"}},
	{id: "db-url-password", re: regexp.MustCompile(urlAuthRE), groups: []int{2}, accept: acceptURL(true), hints: []string{"://"}},
	{id: "url-password", re: regexp.MustCompile(urlAuthRE), groups: []int{2}, accept: acceptURL(false), hints: []string{"://"}},
	{id: "url-query-secret", re: regexp.MustCompile(`[?&]([A-Za-z0-9_.\-]+)=`), value: queryValue, groups: []int{1}, accept: acceptQuery, hints: []string{"?", "&"}},
	{id: "auth-header", re: regexp.MustCompile(`(?i)\b(?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?(?:(?:bearer|basic|digest|negotiate|ntlm|token|apikey|aws4-hmac-sha256)[ \t]+)?`), value: lineValue, groups: []int{1}, accept: acceptNotPlaceholder, trim: " \t", hints: []string{"authorization"}},
	{id: "bearer-token", re: regexp.MustCompile(`(?i)\bbearer[ \t]+`), value: tokenValue, groups: []int{1}, accept: acceptDigit, hints: []string{"bearer"}},
	{id: "cookie-header", re: regexp.MustCompile(`(?i)\b(?:set-)?cookie["']?[ \t]*:[ \t]*["']?`), value: lineValue, groups: []int{1}, accept: acceptNotPlaceholder, trim: " \t", hints: []string{"cookie"}},
	{id: "docker-auth", re: regexp.MustCompile(`"(?:auth|identitytoken)"[ \t]*:[ \t]*"([A-Za-z0-9+/=_\-]{8,})"`), groups: []int{1}, hints: []string{"\"auth\"", "\"identitytoken\""}},
	{id: "cli-flag-secret", re: regexp.MustCompile(`(?:^|[\s"'])(--?[A-Za-z][A-Za-z0-9_.\-]*)`), value: flagValue, groups: []int{1, 2}, accept: acceptFlag, hints: []string{"-"}},
	{id: "cli-flag-secret", re: regexp.MustCompile(`(?:^|\s)-p`), value: attachValue, groups: []int{1}, accept: acceptMySQLAttached, hints: []string{"-p"}},
	{id: "env-secret", re: regexp.MustCompile(`(?m)^[ \t]*(?:export[ \t]+|set[ \t]+|\$env:)?([A-Z_][A-Z0-9_]*)[ \t]*=[ \t]*(\S.*?)[ \t\r]*$`), groups: []int{2}, accept: acceptKey, hints: []string{"="}},
	{id: "env-secret", re: regexp.MustCompile(`(?:^|[\s;&|(])([A-Z_][A-Z0-9_]*)=`), value: shellValue, groups: []int{1}, accept: acceptKey, hints: []string{"="}},
	{id: "config-secret", re: regexp.MustCompile(`(?m)^([ \t]*)(?:-[ \t]+)?["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?[ \t]*:[ \t]*[|>][-+0-9]*[ \t]*\r?$`), span: yamlBlock, accept: acceptBlockKey, hints: []string{"|", ">"}},
	{id: "config-secret", re: regexp.MustCompile(`(?m)^[ \t]*(?:-[ \t]+)?["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?[ \t]*([:=])[ \t]*([^\s"'].*?)[ \t\r]*$`), groups: []int{3}, accept: acceptConfig, hints: []string{":", "="}},
	{id: "config-secret", re: regexp.MustCompile(`\\?["']?([A-Za-z_][A-Za-z0-9_.\-]*)\\?["']?[ \t]*(=>|:=|[:=])`), value: kvValue, groups: []int{1, 2, 3, 4, 5}, accept: acceptConfig, trim: ",", hints: []string{":", "="}},
}
