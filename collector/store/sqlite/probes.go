package sqlite

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/sondehq/sonde/protocol"
)

// appendProbes appends probes to b as encoding/json writes them, byte for
// byte when each Data is compact, without going through reflection and
// without compacting Data again: json.Marshal compacts a json.RawMessage,
// which scans all of it once more, and probe data is most of a snapshot
// (its CPU profile under ingest put json.Marshal at 6 % of the collector).
// Data must be a JSON document, as protocol.Snapshot.Validate checks every
// probe result's is; it is written as it is.
func appendProbes(b []byte, probes []protocol.ProbeJSON) ([]byte, error) {
	if probes == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i := range probes {
		p := &probes[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, p.Name)
		b = append(b, `,"duration_ms":`...)
		var err error
		if b, err = appendFloat(b, p.DurationMS); err != nil {
			return b, fmt.Errorf("probe %s: %w", p.Name, err)
		}
		if p.Error != "" {
			b = append(b, `,"error":`...)
			b = appendString(b, p.Error)
		}
		if len(p.Data) > 0 {
			b = append(b, `,"data":`...)
			b = append(b, p.Data...)
		}
		if len(p.Scrubbed) > 0 {
			b = append(b, `,"scrubbed":[`...)
			for j, sc := range p.Scrubbed {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"rule":`...)
				b = appendString(b, sc.Rule)
				b = append(b, `,"count":`...)
				b = strconv.AppendUint(b, uint64(sc.Count), 10)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendString appends s as a JSON string. Probe names and rule names are
// plain ASCII; anything else (an error message with quotes, HTML or
// non-ASCII text) goes through encoding/json, which escapes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat appends f as encoding/json does (ES6 number formatting).
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("duration %v is not a JSON number", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
