package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"path"
	"time"
)

// unifiedArgs are the fixed arguments of macOS's log: errors and faults
// of the last 24 hours as JSON lines. log show has no count limit and
// writes oldest first, so when the output is cut at the byte limit, the
// newest entries are the ones missing (the source says truncated).
var unifiedArgs = []string{"show", "--style", "ndjson", "--last", "24h",
	"--predicate", "messageType == error OR messageType == fault"}

// readUnified reads macOS's unified log.
func (p *logsProbe) readUnified(ctx context.Context, r *logsRun, st *LogSource) error {
	out, err := p.runLogTool(ctx, st, "log", unifiedArgs...)
	consumeUnified(r, st, out)
	return err
}

// unifiedEvent is the part of an entry of log's ndjson the probe reads.
type unifiedEvent struct {
	Timestamp        string `json:"timestamp"` // "2026-03-10 08:12:33.123456-0800"
	MessageType      string `json:"messageType"`
	Subsystem        string `json:"subsystem"`
	ProcessImagePath string `json:"processImagePath"`
	EventMessage     string `json:"eventMessage"`
}

// consumeUnified parses log's ndjson output. Lines that are not entries
// (log's "Filtering the log data using ..." header, its closing summary,
// a last line cut short) are skipped.
func consumeUnified(r *logsRun, st *LogSource, out []byte) {
	for len(out) > 0 {
		line := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i], out[i+1:]
		} else {
			out = nil
		}
		line = bytes.TrimSpace(line)
		var ev unifiedEvent
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil || ev.Timestamp == "" {
			continue
		}
		st.EntriesRead++
		t, err := time.Parse("2006-01-02 15:04:05-0700", ev.Timestamp)
		if err != nil {
			continue
		}
		sev := map[string]int{"Fault": sevCritical, "Error": sevError}[ev.MessageType]
		if sev == 0 {
			continue
		}
		source := path.Base(ev.ProcessImagePath)
		if ev.ProcessImagePath == "" {
			source = ev.Subsystem
		}
		r.entry(st, logEntry{time: t, severity: sev, source: source, message: ev.EventMessage})
	}
}
