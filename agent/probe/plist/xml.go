package plist

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// xmlList is an XML property list being decoded. encoding/xml expands
// only the predefined and numeric entities, so a DOCTYPE cannot make the
// input grow.
type xmlList struct {
	d *xml.Decoder
	budget
}

// errEnd reports the end element of the enclosing dict or array.
var errEnd = errors.New("end of the collection")

func parseXML(b []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	l := &xmlList{d: d}
	for {
		tok, err := l.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "plist" {
				return l.value(t, 0) // a bare value, without <plist>
			}
			v, err := l.next(0)
			if errors.Is(err, errEnd) {
				return nil, fmt.Errorf("%w: <plist> holds no value", ErrFormat)
			}
			if err != nil {
				return nil, err
			}
			if _, err := l.next(0); !errors.Is(err, errEnd) {
				return nil, fmt.Errorf("%w: <plist> holds more than one value", ErrFormat)
			}
			return v, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: text before the first element", ErrFormat)
			}
		}
	}
}

// token returns the next token, turning the end of input into an error.
func (l *xmlList) token() (xml.Token, error) {
	tok, err := l.d.Token()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: unexpected end of XML", ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return tok, nil
}

// next decodes the next value at depth, skipping space and comments; at
// the end element of the enclosing collection it returns errEnd.
func (l *xmlList) next(depth int) (any, error) {
	for {
		tok, err := l.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return l.value(t, depth)
		case xml.EndElement:
			return nil, errEnd
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: text %.20q between values (line %d)", ErrFormat, t, l.line())
			}
		}
	}
}

func (l *xmlList) line() int {
	line, _ := l.d.InputPos()
	return line
}

// value decodes the value that start opens.
func (l *xmlList) value(start xml.StartElement, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrFormat, MaxDepth)
	}
	if err := l.take(); err != nil {
		return nil, err
	}
	name := start.Name.Local
	switch name {
	case "dict":
		return l.dict(depth)
	case "array":
		return l.array(depth)
	case "true", "false":
		if s, err := l.text(); err != nil || strings.TrimSpace(s) != "" {
			return nil, l.bad(name, s, err)
		}
		return name == "true", nil
	}
	s, err := l.text()
	if err != nil {
		return nil, l.bad(name, s, err)
	}
	switch name {
	case "string":
		return strings.ToValidUTF8(s, "\uFFFD"), nil
	case "integer":
		return parseInteger(strings.TrimSpace(s))
	case "real":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, l.bad(name, s, nil)
		}
		return f, nil
	case "date":
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
		if err != nil {
			return nil, l.bad(name, s, nil)
		}
		return t.UTC(), nil
	case "data":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, l.bad(name, s, nil)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: unknown element <%.20s> (line %d)", ErrFormat, name, l.line())
}

func (l *xmlList) bad(name, s string, err error) error {
	if err != nil {
		return fmt.Errorf("%w: in <%s> (line %d): %w", ErrFormat, name, l.line(), err)
	}
	return fmt.Errorf("%w: bad <%s> %.40q (line %d)", ErrFormat, name, s, l.line())
}

// text returns the character data up to the current element's end; a
// child element is an error.
func (l *xmlList) text() (string, error) {
	var b strings.Builder
	for {
		tok, err := l.token()
		if err != nil {
			return b.String(), err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		case xml.StartElement:
			return b.String(), fmt.Errorf("unexpected element <%.20s>", t.Name.Local)
		}
	}
}

func (l *xmlList) array(depth int) (any, error) {
	out := []any{}
	for {
		v, err := l.next(depth + 1)
		if errors.Is(err, errEnd) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// dict decodes <key> elements, each followed by its value.
func (l *xmlList) dict(depth int) (any, error) {
	out := Dict{}
	for {
		tok, err := l.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return out, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: text %.20q in a dict (line %d)", ErrFormat, t, l.line())
			}
		case xml.StartElement:
			if t.Name.Local != "key" {
				return nil, fmt.Errorf("%w: <%.20s> where a dict expects <key> (line %d)", ErrFormat, t.Name.Local, l.line())
			}
			key, err := l.text()
			if err != nil {
				return nil, l.bad("key", key, err)
			}
			v, err := l.next(depth + 1)
			if errors.Is(err, errEnd) {
				return nil, fmt.Errorf("%w: key %.40q has no value (line %d)", ErrFormat, key, l.line())
			}
			if err != nil {
				return nil, err
			}
			out[strings.ToValidUTF8(key, "\uFFFD")] = v
		}
	}
}

// parseInteger parses a decimal or 0x-prefixed hexadecimal integer, as
// int64 or, past its range, uint64.
func parseInteger(s string) (any, error) {
	neg, digits := false, s
	if strings.HasPrefix(digits, "-") || strings.HasPrefix(digits, "+") {
		neg, digits = digits[0] == '-', digits[1:]
	}
	base := 10
	if strings.HasPrefix(digits, "0x") || strings.HasPrefix(digits, "0X") {
		base, digits = 16, digits[2:]
	}
	u, err := strconv.ParseUint(digits, base, 64)
	switch {
	case err != nil || digits == "" || digits[0] == '+' || digits[0] == '-':
		return nil, fmt.Errorf("%w: bad <integer> %.40q", ErrFormat, s)
	case neg && u <= 1<<63:
		return int64(-u), nil
	case neg:
		return nil, fmt.Errorf("%w: <integer> %.40q out of range", ErrFormat, s)
	case u > 1<<63-1:
		return u, nil
	}
	return int64(u), nil
}
