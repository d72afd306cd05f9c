package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/common"
)

// journalLines is how many entries journalctl returns, the newest.
const journalLines = 2000

// journalFields are the fields asked of journalctl. __REALTIME_TIMESTAMP
// and _BOOT_ID always come with json output.
var journalFields = []string{
	"MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT", "_COMM", "_TRANSPORT",
	"COREDUMP_EXE", "COREDUMP_COMM", "COREDUMP_PID", "COREDUMP_SIGNAL_NAME",
	"COREDUMP_FILENAME", "COREDUMP_TIMESTAMP",
}

// journalArgs are journalctl's fixed arguments: warnings and worse of the
// last 24 hours, newest first, at most journalLines entries, as JSON
// lines. Without --all, journalctl writes fields over 4 KiB as null.
var journalArgs = []string{
	"--output=json",
	"--output-fields=" + strings.Join(journalFields, ","),
	"--no-pager",
	"--quiet",
	"--priority=warning",
	"--since=-24h",
	"--reverse",
	"--lines=" + strconv.Itoa(journalLines),
}

// readJournal runs journalctl, when this machine keeps a systemd journal.
func (p *logsProbe) readJournal(ctx context.Context, r *logsRun, st *LogSource) error {
	if !hasJournal(Path(ctx, common.HostRunEnvKey, "log", "journal")) &&
		!hasJournal(Path(ctx, common.HostVarEnvKey, "log", "journal")) {
		return notAvailable("no systemd journal (no journal files in /run/log/journal or /var/log/journal)")
	}
	out, err := p.runLogTool(ctx, st, "journalctl", journalArgs...)
	consumeJournal(r, st, out)
	if st.EntriesRead >= journalLines {
		st.Truncated = true // there may be more
	}
	return err
}

// hasJournal reports whether dir, or one of its machine folders, holds
// a journal file.
func hasJournal(dir string) bool {
	entries, err := readDirN(dir, 64)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if isJournalFile(e.Name()) {
			return true
		}
		if e.IsDir() {
			sub, _ := readDirN(filepath.Join(dir, e.Name()), 64)
			for _, s := range sub {
				if isJournalFile(s.Name()) {
					return true
				}
			}
		}
	}
	return false
}

func isJournalFile(name string) bool {
	return strings.HasSuffix(name, ".journal") || strings.HasSuffix(name, ".journal~")
}

// readDirN lists at most n entries of dir, in directory order.
func readDirN(dir string, n int) ([]os.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("listing a folder: %w", err)
	}
	defer f.Close()
	entries, err := f.ReadDir(n)
	if len(entries) > 0 || errors.Is(err, io.EOF) {
		return entries, nil
	}
	return nil, fmt.Errorf("listing a folder: %w", err)
}

// consumeJournal parses journalctl's JSON lines. A line that does not
// parse (the last one, when the output was cut) is skipped.
func consumeJournal(r *logsRun, st *LogSource, out []byte) {
	for len(out) > 0 {
		line := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i], out[i+1:]
		} else {
			out = nil
		}
		var fields map[string]json.RawMessage
		if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &fields) != nil {
			continue
		}
		st.EntriesRead++
		journalEntry(r, st, fields)
	}
}

// journalEntry takes one journal entry: a message and, for
// systemd-coredump's record of a crash, a crash.
func journalEntry(r *logsRun, st *LogSource, f map[string]json.RawMessage) {
	usec, err := strconv.ParseInt(journalString(f["__REALTIME_TIMESTAMP"]), 10, 64)
	if err != nil || usec < 0 {
		return
	}
	t := time.UnixMicro(usec)
	prio, err := strconv.Atoi(journalString(f["PRIORITY"]))
	if err != nil || prio < 0 || prio > 7 {
		return
	}
	transport := journalString(f["_TRANSPORT"])
	ident := journalString(f["SYSLOG_IDENTIFIER"])
	if transport == "kernel" && r.bootID != "" && journalString(f["_BOOT_ID"]) == r.bootID &&
		!r.kmsgSince.IsZero() && !t.Before(r.kmsgSince) {
		return // read from /dev/kmsg already
	}
	msg := journalString(f["MESSAGE"])
	if bytes.Equal(f["MESSAGE"], []byte("null")) {
		msg = "[message over 4 KiB, not shown by journalctl]"
	}
	r.entry(st, logEntry{
		time: t, severity: prio, message: msg,
		source: journalSource(transport, ident, journalString(f["_SYSTEMD_UNIT"]), journalString(f["_COMM"])),
		kernel: transport == "kernel" && ident == "kernel",
	})
	if exe := journalString(f["COREDUMP_EXE"]); exe != "" || f["COREDUMP_COMM"] != nil {
		c := crashRecord{time: t, LogCrash: LogCrash{
			Kind: "crash", Program: journalString(f["COREDUMP_COMM"]), Executable: exe,
			Signal: journalString(f["COREDUMP_SIGNAL_NAME"]), Source: st.Name,
			File: filepath.Base(journalString(f["COREDUMP_FILENAME"])),
		}}
		if c.File == "." {
			c.File = ""
		}
		if c.Program == "" {
			c.Program = filepath.Base(exe)
		}
		c.PID, _ = strconv.Atoi(journalString(f["COREDUMP_PID"]))
		if crashed, err := strconv.ParseInt(journalString(f["COREDUMP_TIMESTAMP"]), 10, 64); err == nil && crashed > 0 {
			c.time = time.UnixMicro(crashed)
		}
		r.crash(c)
	}
}

// journalSource names what wrote an entry: a service's unit, else its
// syslog identifier or command name; the kernel is "kernel".
func journalSource(transport, ident, unit, comm string) string {
	switch {
	case transport == "kernel" && ident == "kernel":
		return "kernel"
	case strings.HasSuffix(unit, ".service") && !strings.HasPrefix(unit, "user@"):
		return unit
	case ident != "":
		return ident
	case comm != "":
		return comm
	}
	return unit
}

// journalString decodes a journal field: a string, an array of bytes
// (a value that is not valid UTF-8 or holds control characters), or an
// array of those when the field occurs several times (joined by spaces).
func journalString(raw json.RawMessage) string {
	if len(raw) > 0 && raw[0] == '[' {
		var parts []json.RawMessage
		if json.Unmarshal(raw, &parts) != nil {
			return ""
		}
		if s, ok := journalBytes(parts); ok {
			return s
		}
		var out []string
		for _, p := range parts {
			if s, ok := journalValue(p); ok && s != "" {
				out = append(out, s)
			}
		}
		return strings.Join(out, " ")
	}
	s, _ := journalValue(raw)
	return s
}

// journalValue decodes one value: a string or an array of bytes.
func journalValue(raw json.RawMessage) (string, bool) {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err == nil
	}
	var parts []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &parts) != nil {
		return "", false
	}
	return journalBytes(parts)
}

// journalBytes decodes an array of numbers 0-255 as bytes.
func journalBytes(parts []json.RawMessage) (string, bool) {
	b := make([]byte, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.ParseUint(string(p), 10, 8)
		if err != nil {
			return "", false
		}
		b = append(b, byte(n))
	}
	return string(b), true
}
