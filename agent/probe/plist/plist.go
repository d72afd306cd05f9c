// Package plist reads Apple property lists, XML and binary ("bplist00"),
// for the agent's macOS probes (application bundles' Info.plist, package
// receipts). The files come from the host and are untrusted: the input
// size, the nesting depth and the number of values decoded are bounded,
// and a malformed file is an error that says where, never a panic.
//
// A value decodes as a Dict (dict), []any (array), string, int64 or uint64
// (integer), float64 (real), bool, time.Time (date), []byte (data), UID (a
// binary plist's object reference) or nil (a binary plist's null).
// Strings are valid UTF-8.
package plist

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Bounds on what Parse reads.
const (
	// MaxSize is the largest input Parse accepts, in bytes.
	MaxSize = 8 << 20
	// MaxDepth is how deeply dicts and arrays may nest.
	MaxDepth = 64
	// MaxValues is how many values one Parse decodes. A binary plist may
	// refer to one object many times; each reference counts, so shared
	// objects cannot multiply into an unbounded tree.
	MaxValues = 1 << 17
)

// ErrFormat is wrapped by every error about a malformed property list.
var ErrFormat = errors.New("malformed property list")

// Dict is a property list dictionary.
type Dict map[string]any

// UID is a binary plist's UID value (NSKeyedArchiver's object references).
type UID uint64

// String returns the string at key, and whether there is one.
func (d Dict) String(key string) (string, bool) {
	s, ok := d[key].(string)
	return s, ok
}

// Date returns the date at key, and whether there is one.
func (d Dict) Date(key string) (time.Time, bool) {
	t, ok := d[key].(time.Time)
	return t, ok
}

// binaryMagic starts every binary property list this package reads.
var binaryMagic = []byte("bplist00")

// Parse decodes a property list, binary or XML by its first bytes.
func Parse(b []byte) (any, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFormat, len(b), MaxSize)
	}
	if bytes.HasPrefix(b, binaryMagic) {
		return parseBinary(b)
	}
	if bytes.HasPrefix(b, []byte("bplist")) {
		return nil, fmt.Errorf("%w: binary format %.8q is not supported", ErrFormat, b)
	}
	return parseXML(b)
}

// ParseDict decodes a property list whose top value is a dict, as
// Info.plist files and receipts are.
func ParseDict(b []byte) (Dict, error) {
	v, err := Parse(b)
	if err != nil {
		return nil, err
	}
	d, ok := v.(Dict)
	if !ok {
		return nil, fmt.Errorf("%w: the top value is %s, not a dict", ErrFormat, typeName(v))
	}
	return d, nil
}

// budget counts the values one Parse decodes.
type budget struct{ values int }

func (b *budget) take() error {
	b.values++
	if b.values > MaxValues {
		return fmt.Errorf("%w: more than %d values", ErrFormat, MaxValues)
	}
	return nil
}

// epoch is the zero of plist dates.
var epoch = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// maxDateSeconds bounds dates to about ±3000 years around the epoch, so
// that converting them cannot overflow.
const maxDateSeconds = 1e11

// dateOf converts seconds since 2001 to a time.
func dateOf(secs float64) (time.Time, error) {
	if secs != secs || secs > maxDateSeconds || secs < -maxDateSeconds {
		return time.Time{}, fmt.Errorf("%w: date %g out of range", ErrFormat, secs)
	}
	whole := int64(secs)
	nanos := int64((secs - float64(whole)) * 1e9)
	return time.Unix(epoch.Unix()+whole, nanos).UTC(), nil
}

func typeName(v any) string {
	switch v.(type) {
	case Dict:
		return "a dict"
	case []any:
		return "an array"
	case string:
		return "a string"
	case int64, uint64:
		return "an integer"
	case float64:
		return "a real"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date"
	case []byte:
		return "data"
	case UID:
		return "a UID"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
