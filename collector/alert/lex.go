package alert

import (
	"fmt"
	"strconv"
	"strings"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tOp
	tPunct // ( ) { } , -
)

type token struct {
	kind tokKind
	text string
	pos  int
}

var ops = []string{">=", "<=", "==", "!=", "=~", "!~", ">", "<", "="}

// lex splits s into tokens.
func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && (isIdentStart(s[j]) || isDigit(s[j]) || s[j] == '.') {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j], i})
			i = j
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			j := i
			for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
				j++
			}
			if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
				j++
				if j < len(s) && (s[j] == '+' || s[j] == '-') {
					j++
				}
				for j < len(s) && isDigit(s[j]) {
					j++
				}
			}
			toks = append(toks, token{tNumber, s[i:j], i})
			i = j
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, &ExprError{i + 1, "unterminated string"}
			}
			v, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				return nil, &ExprError{i + 1, "invalid string " + s[i:j+1]}
			}
			toks = append(toks, token{tString, v, i})
			i = j + 1
		case strings.ContainsRune("(){},-", rune(c)):
			toks = append(toks, token{tPunct, s[i : i+1], i})
			i++
		default:
			op := ""
			for _, o := range ops {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, &ExprError{i + 1, fmt.Sprintf("unexpected character %q", rune(c))}
			}
			toks = append(toks, token{tOp, op, i})
			i += len(op)
		}
	}
	return append(toks, token{tEOF, "", len(s)}), nil
}

func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
