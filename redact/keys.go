package redact

import (
	"regexp"
	"strings"
	"unicode"
)

// secretWords are key-name words that mark the value as secret on their own.
var secretWords = map[string]bool{
	"password": true, "passwd": true, "passphrase": true, "pwd": true, "pass": true,
	"secret": true, "secrets": true, "token": true, "apikey": true, "credential": true,
	"credentials": true, "creds": true, "cookie": true, "cookies": true, "authorization": true,
	"auth": true, "session": true, "sessionid": true, "dsn": true, "psk": true,
	"privatekey": true, "accesskey": true, "secretkey": true, "authtoken": true,
	"accesstoken": true, "refreshtoken": true, "apitoken": true, "identitytoken": true,
	"clientsecret": true, "connectionstring": true, "connstr": true, "sas": true,
}

// secretPairs are two consecutive key-name words that mark the value as secret.
var secretPairs = map[string]bool{
	"api key": true, "access key": true, "private key": true, "secret key": true,
	"auth key": true, "signing key": true, "encryption key": true, "master key": true,
	"account key": true, "connection string": true, "conn str": true, "session key": true,
	"client secret": true, "shared key": true, "license key": true, "access token": true,
}

// secretStemRE matches every secret-looking name (each secret word and pair
// holds one of these stems); it rejects most names without splitting them.
var secretStemRE = regexp.MustCompile(`(?i)pass|pwd|secret|token|key|cred|cookie|auth|session|dsn|psk|sas|conn`)

// secretSuffixes mark a single word as secret when it ends with one of them
// (dbpassword, pgpassword, githubtoken).
var secretSuffixes = []string{"password", "passwd", "token", "secret", "apikey"}

// harmlessLast are last key-name words that turn a secret-looking key into a
// description of the secret rather than the secret itself (password_policy,
// token_url, SSH_AUTH_SOCK).
var harmlessLast = map[string]bool{
	"policy": true, "required": true, "file": true, "path": true, "url": true, "uri": true,
	"endpoint": true, "type": true, "enabled": true, "expiry": true, "expires": true,
	"expiration": true, "ttl": true, "count": true, "length": true, "len": true, "age": true,
	"min": true, "max": true, "set": true, "present": true, "hint": true, "prompt": true,
	"changed": true, "last": true, "updated": true, "reset": true, "method": true, "mode": true,
	"provider": true, "scheme": true, "plugin": true, "backend": true, "source": true,
	"timeout": true, "name": true, "ref": true, "sock": true, "socket": true, "address": true,
	"stdin": true, "algorithm": true, "format": true, "header": true, "dir": true,
	"helper": true, "store": true, "version": true, "level": true, "status": true,
}

// keyWords splits a key name into lower-case words at separators and camelCase
// boundaries: "clientSecret" → client, secret; "AWS_ACCESS_KEY" → aws, access, key.
func keyWords(k string) []string {
	var words []string
	var cur []rune
	rs := []rune(k)
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i, c := range rs {
		switch {
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			flush()
		case unicode.IsUpper(c) && i > 0 && len(cur) > 0 &&
			(unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))):
			flush()
			cur = append(cur, c)
		default:
			cur = append(cur, c)
		}
	}
	flush()
	return words
}

// secretKey reports whether a key, flag or variable name says its value is a
// secret: password, DB_PASSWORD, clientSecret, api-key, X-Auth-Token, but not
// password_policy, token_url, max_tokens or the shell's PWD.
func secretKey(k string) bool {
	if k == "PWD" || k == "OLDPWD" || !secretStemRE.MatchString(k) {
		return false
	}
	words := keyWords(k)
	if len(words) == 0 || harmlessLast[words[len(words)-1]] {
		return false
	}
	for i, w := range words {
		if secretWords[w] {
			return true
		}
		if i > 0 && secretPairs[words[i-1]+" "+w] {
			return true
		}
		for _, suf := range secretSuffixes {
			if len(w) > len(suf) && strings.HasSuffix(w, suf) {
				return true
			}
		}
	}
	return false
}

// hostKeys are JSON keys whose string value is a machine's own name.
var hostKeys = map[string]bool{
	"hostname": true, "host_name": true, "fqdn": true, "nodename": true, "node_name": true,
	"computer_name": true, "computername": true, "machine_name": true,
}

// userKeys are JSON keys whose string value may be a user name.
var userKeys = map[string]bool{
	"user": true, "username": true, "user_name": true, "owner": true, "login": true,
}

// placeholderWords are values that are never secrets.
var placeholderWords = map[string]bool{
	"null": true, "nil": true, "none": true, "true": true, "false": true, "yes": true,
	"no": true, "on": true, "off": true, "undefined": true, "redacted": true, "hidden": true,
	"masked": true, "(null)": true, "[filtered]": true, "[redacted]": true, "<redacted>": true,
	"|": true, ">": true, "|-": true, ">-": true, "{": true, "[": true,
}

// placeholder reports whether a value found next to a secret-looking name is
// clearly not a secret: empty, a boolean, a mask like ******, a reference
// like ${DB_PASS} or $DB_PASS, a template like <password>, or already a marker.
func placeholder(v string) bool {
	v = strings.TrimSpace(strings.Trim(strings.TrimSpace(v), `"'`))
	if v == "" || placeholderWords[strings.ToLower(v)] || strings.HasPrefix(v, "[REDACTED:") {
		return true
	}
	if strings.Trim(v, "*xX•#.") == "" {
		return true
	}
	if strings.HasPrefix(v, "${") || strings.HasPrefix(v, "{{") || strings.HasPrefix(v, "%(") {
		return strings.HasSuffix(v, "}") || strings.HasSuffix(v, ")s")
	}
	if v[0] == '<' && v[len(v)-1] == '>' && !strings.ContainsAny(v, " \t") {
		return true
	}
	if v[0] == '$' && len(v) > 1 {
		for _, c := range v[1:] {
			if !(c == '_' || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
				return false
			}
		}
		return true
	}
	return false
}

// onlyMarkers reports whether s holds redaction markers and nothing else but
// whitespace.
func onlyMarkers(s string) bool {
	rest := markerRE.ReplaceAllString(s, "")
	return rest != s && strings.TrimSpace(rest) == ""
}

// lineWindow bounds the context lineAt looks at around an offset.
const lineWindow = 512

// lineAt returns the line of s that holds byte offset i, cut to lineWindow
// bytes either side.
func lineAt(s string, i int) string {
	lo, hi := max(0, i-lineWindow), min(len(s), i+lineWindow)
	start := lo + strings.LastIndexByte(s[lo:i], '\n') + 1
	end := strings.IndexByte(s[i:hi], '\n')
	if end < 0 {
		return s[start:hi]
	}
	return s[start : i+end]
}

// hasDigit reports whether s contains an ASCII digit.
func hasDigit(s string) bool {
	return strings.ContainsAny(s, "0123456789")
}

// allUpper reports whether a name has letters and none of them lower case.
func allUpper(s string) bool {
	return strings.ToUpper(s) == s && strings.ToLower(s) != s
}

// wordByte reports whether c continues an identifier-like token.
func wordByte(c byte) bool {
	return c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
