package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sondehq/sonde/internal/safetext"
)

// Bounds of a proxy's answer to CONNECT.
const (
	// MaxResponseHead bounds the status line and headers read; a proxy
	// that sends more is refused.
	MaxResponseHead = 16 << 10
	maxHeaders      = 100
	maxReason       = 128
	maxSchemes      = 8
)

// response is what Dial keeps of a proxy's answer to CONNECT.
type response struct {
	Status int
	Reason string
	// Schemes are the authentication schemes of its Proxy-Authenticate
	// headers, in order, without repeats: Basic, NTLM, Negotiate ...
	Schemes []string
	// WWWSchemes are those of WWW-Authenticate, which some proxies send
	// with a 401 instead (tinyproxy before 1.11.2: its issue 532).
	WWWSchemes []string
}

var (
	errNotHTTP  = errors.New("not an HTTP response")
	errTooLarge = fmt.Errorf("status line and headers longer than %d bytes", MaxResponseHead)
	errCutShort = errors.New("the connection closed before the end of the headers")
)

// readResponse reads a proxy's answer to CONNECT up to the end of its
// headers, at most MaxResponseHead bytes, and returns it with the bytes
// read past the headers (the start of the tunnel, which a proxy need not
// hold back).
func readResponse(r io.Reader) (response, []byte, error) {
	buf := make([]byte, MaxResponseHead)
	n := 0
	for {
		m, err := r.Read(buf[n:])
		n += m
		if end := headEnd(buf[:n]); end >= 0 {
			resp, err := parseHead(buf[:end])
			return resp, bytes.Clone(buf[end:n]), err
		}
		switch {
		case errors.Is(err, io.EOF) && n > 0 && !bytes.HasPrefix(buf[:n], []byte("HTTP/"[:min(n, 5)])):
			return response{}, nil, fmt.Errorf("%w: it began %q", errNotHTTP, safetext.Clean(string(buf[:min(n, 40)]), 40))
		case errors.Is(err, io.EOF):
			return response{}, nil, errCutShort
		case err != nil:
			return response{}, nil, fmt.Errorf("reading the answer: %w", err)
		case n == len(buf):
			return response{}, nil, errTooLarge
		}
	}
}

// headEnd returns the length of the head (through its blank line) in b,
// or -1. It accepts bare "\n" line ends, as HTTP clients do.
func headEnd(b []byte) int {
	crlf := bytes.Index(b, []byte("\r\n\r\n"))
	lf := bytes.Index(b, []byte("\n\n"))
	switch {
	case crlf >= 0 && (lf < 0 || crlf+2 <= lf):
		return crlf + 4
	case lf >= 0:
		return lf + 2
	}
	return -1
}

// parseHead parses a status line and headers: "HTTP/1.x NNN reason"
// then "Name: value" lines. It keeps the status, the reason (cleaned and
// bounded) and the Proxy-Authenticate schemes.
func parseHead(head []byte) (response, error) {
	var resp response
	if len(head) > MaxResponseHead {
		return resp, errTooLarge
	}
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	status := lines[0]
	if !strings.HasPrefix(status, "HTTP/1.") || len(status) < len("HTTP/1.x 200") || status[8] != ' ' {
		return resp, fmt.Errorf("%w: its status line is %q", errNotHTTP, safetext.Clean(status, 40))
	}
	code := status[9:min(len(status), 12)]
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 100 || (len(status) > 12 && status[12] != ' ') {
		return resp, fmt.Errorf("%w: status %q", errNotHTTP, safetext.Clean(code, 8))
	}
	resp.Status = n
	if len(status) > 13 {
		resp.Reason = safetext.Clean(status[13:], maxReason)
	}
	headers := 0
	for _, line := range lines[1:] {
		if line == "" {
			continue
		}
		if headers++; headers > maxHeaders {
			return resp, fmt.Errorf("more than %d headers", maxHeaders)
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || line[0] == ' ' || line[0] == '\t' {
			continue // a folded or broken line: nothing Dial needs
		}
		switch name = strings.TrimSpace(name); {
		case strings.EqualFold(name, "Proxy-Authenticate"):
			resp.Schemes = addSchemes(resp.Schemes, value)
		case strings.EqualFold(name, "WWW-Authenticate"):
			resp.WWWSchemes = addSchemes(resp.WWWSchemes, value)
		}
	}
	return resp, nil
}

// addSchemes adds the schemes of one Proxy-Authenticate value to have. A
// value may hold several challenges: `Negotiate, NTLM`, or `Basic
// realm="a, b", NTLM`; a scheme is a token that starts a challenge (not
// a name=value parameter).
func addSchemes(have []string, value string) []string {
	for _, part := range splitOutsideQuotes(value) {
		tok, _, _ := strings.Cut(strings.TrimSpace(part), " ")
		if !isToken(tok) || len(tok) > 32 || len(have) == maxSchemes {
			continue // a parameter (name=value), or not a scheme's name
		}
		dup := false
		for _, h := range have {
			dup = dup || strings.EqualFold(h, tok)
		}
		if !dup {
			have = append(have, tok)
		}
	}
	return have
}

// splitOutsideQuotes splits s at commas that are not inside a quoted
// string.
func splitOutsideQuotes(s string) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// isToken says s is an HTTP token (RFC 9110): what a scheme's name is.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
