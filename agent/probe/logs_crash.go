package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/common"
)

// Bounds of the crash report files read.
const (
	maxReportsOpened = 200      // report headers read per folder
	maxHeaderBytes   = 64 << 10 // of an apport report's header
	maxFirstLine     = 8 << 10  // of a macOS .ips report
)

// readCoredumps lists systemd-coredump's cores by name,
// core.<comm>.<uid>.<boot id>.<pid>.<µs since the epoch>[.zst|.xz|.lz4];
// it never opens them.
func (p *logsProbe) readCoredumps(ctx context.Context, r *logsRun, st *LogSource) error {
	entries, err := p.crashDir(st, Path(ctx, common.HostVarEnvKey, "lib", "systemd", "coredump"), "systemd-coredump folder (/var/lib/systemd/coredump)")
	for _, e := range entries {
		st.EntriesRead++
		if c, ok := parseCoreName(e.Name()); ok {
			c.Source = st.Name
			r.crashFile(st, c)
		}
	}
	return err
}

// crashDir lists a folder of crash reports, at most limits.Files entries.
func (p *logsProbe) crashDir(st *LogSource, dir, what string) ([]os.DirEntry, error) {
	entries, err := readDirN(dir, p.limits.Files)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notAvailable("no %s", what)
	}
	if err != nil {
		return nil, err
	}
	st.Truncated = len(entries) >= p.limits.Files
	return entries, nil
}

// parseCoreName parses a systemd-coredump file name. Its command name
// comes escaped (\x2e for a dot).
func parseCoreName(name string) (crashRecord, bool) {
	rest, ok := strings.CutPrefix(name, "core.")
	if !ok {
		return crashRecord{}, false
	}
	parts := strings.Split(rest, ".")
	switch parts[len(parts)-1] {
	case "zst", "xz", "lz4":
		parts = parts[:len(parts)-1]
	}
	if len(parts) < 5 {
		return crashRecord{}, false
	}
	n := len(parts)
	usec, err := strconv.ParseInt(parts[n-1], 10, 64)
	pid, err2 := strconv.Atoi(parts[n-2])
	if err != nil || err2 != nil || usec <= 0 || len(parts[n-3]) != 32 || !allHex(parts[n-3]) {
		return crashRecord{}, false
	}
	if _, err := strconv.ParseUint(parts[n-4], 10, 32); err != nil {
		return crashRecord{}, false
	}
	return crashRecord{time: time.UnixMicro(usec), LogCrash: LogCrash{
		Kind: "crash", Program: unescapeHex(strings.Join(parts[:n-4], ".")), PID: pid, File: name,
	}}, true
}

// unescapeHex undoes systemd's \xNN escapes.
func unescapeHex(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readApport reads the headers of Ubuntu's apport reports,
// /var/crash/*.crash: ProblemType, Date, ExecutablePath and Package,
// never the rest (command lines, environment, the core).
func (p *logsProbe) readApport(ctx context.Context, r *logsRun, st *LogSource) error {
	dir := Path(ctx, common.HostVarEnvKey, "crash")
	entries, err := p.crashDir(st, dir, "apport folder (/var/crash)")
	opened := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".crash") || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(r.since) {
			continue // written before the window
		}
		if opened++; opened > maxReportsOpened {
			st.Truncated = true
			break
		}
		st.EntriesRead++
		h, err := readApportHeader(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		c, ok := apportCrash(h, p.loc)
		if !ok {
			continue
		}
		c.File, c.Source = e.Name(), st.Name
		r.crashFile(st, c)
	}
	return err
}

// readApportHeader reads the first fields of an apport report.
func readApportHeader(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading an apport report: %w", err)
	}
	defer f.Close()
	return parseApportHeader(io.LimitReader(f, maxHeaderBytes)), nil
}

// parseApportHeader reads "Key: value" lines until it has the four fields
// it wants or meets the binary ones. Apport writes ProblemType first and
// the others in alphabetical order, so Package comes before ProcCmdline
// and ProcEnviron, which are never reached.
func parseApportHeader(rd io.Reader) map[string]string {
	want := map[string]bool{"ProblemType": true, "Date": true, "ExecutablePath": true, "Package": true}
	h := map[string]string{}
	br := bufio.NewReaderSize(rd, 4096)
	for len(h) < len(want) {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull { // a long value: skip it
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if len(line) > 0 && line[0] != ' ' {
			k, v, ok := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(": "))
			if ok && want[string(k)] {
				h[string(k)] = string(bytes.TrimSpace(v))
			}
			if ok && string(k) == "CoreDump" {
				break
			}
		}
		if err != nil {
			break
		}
	}
	return h
}

// apportCrash makes a crash of an apport header, whose Date is local
// time in ctime's layout.
func apportCrash(h map[string]string, loc *time.Location) (crashRecord, bool) {
	t, err := time.ParseInLocation(time.ANSIC, h["Date"], loc)
	if err != nil {
		return crashRecord{}, false
	}
	kind := map[string]string{"Crash": "crash", "KernelCrash": "kernel", "KernelOops": "kernel", "Hang": "hang", "Package": "package"}[h["ProblemType"]]
	if kind == "" {
		kind = "report"
	}
	c := crashRecord{time: t, LogCrash: LogCrash{Kind: kind, Executable: h["ExecutablePath"], Package: h["Package"]}}
	c.Program = filepath.Base(c.Executable)
	if c.Executable == "" {
		c.Program, _, _ = strings.Cut(c.Package, " ")
	}
	return c, true
}

// readDiagnosticReports lists macOS's crash, hang and panic reports in
// /Library/Logs/DiagnosticReports, reading only the JSON header line of
// .ips reports; the others are known by name.
func (p *logsProbe) readDiagnosticReports(ctx context.Context, r *logsRun, st *LogSource) error {
	dir := Path(ctx, common.HostRootEnvKey, "Library", "Logs", "DiagnosticReports")
	entries, err := p.crashDir(st, dir, "diagnostic reports folder (/Library/Logs/DiagnosticReports)")
	opened := 0
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if ext != ".ips" && ext != ".crash" && ext != ".panic" || !e.Type().IsRegular() {
			continue
		}
		st.EntriesRead++
		c, ok := reportByName(name, p.loc)
		if ext == ".ips" {
			if opened++; opened > maxReportsOpened {
				st.Truncated = true
				break
			}
			if line, err := readFirstLine(filepath.Join(dir, name), maxFirstLine); err == nil {
				c, ok = ipsCrash(line, c, ok)
			}
		}
		if ok {
			c.File, c.Source = name, st.Name
			r.crashFile(st, c)
		}
	}
	return err
}

// reportByName reads a report's program and local time from its name,
// "<program>-2024-01-15-081233.ips" or "<program>_2024-01-15-081233_<host>.crash".
func reportByName(name string, loc *time.Location) (crashRecord, bool) {
	const layout = "2006-01-02-150405"
	for i := 1; i+len(layout) <= len(name); i++ {
		if name[i-1] != '-' && name[i-1] != '_' {
			continue
		}
		t, err := time.ParseInLocation(layout, name[i:i+len(layout)], loc)
		if err != nil {
			continue
		}
		kind := "crash"
		if strings.HasSuffix(name, ".panic") {
			kind = "kernel"
		}
		return crashRecord{time: t, LogCrash: LogCrash{Kind: kind, Program: name[:i-1]}}, true
	}
	return crashRecord{}, false
}

// ipsCrash completes c with the JSON header of an .ips report.
func ipsCrash(line []byte, c crashRecord, ok bool) (crashRecord, bool) {
	var h struct {
		AppName   string `json:"app_name"`
		Name      string `json:"name"`
		Timestamp string `json:"timestamp"` // "2024-01-15 08:12:33.00 -0800"
		BugType   string `json:"bug_type"`
	}
	if json.Unmarshal(line, &h) != nil {
		return c, ok
	}
	if t, err := time.Parse("2006-01-02 15:04:05 -0700", h.Timestamp); err == nil {
		c.time, ok = t, true
	}
	c.Program = cmpOr(cmpOr(h.AppName, h.Name), c.Program)
	switch h.BugType {
	case "309", "109":
		c.Kind = "crash"
	case "210":
		c.Kind = "kernel"
		if h.AppName == "" && h.Name == "" {
			c.Program = "kernel"
		}
	case "":
	default:
		c.Kind = "report"
	}
	return c, ok
}

// readFirstLine reads the first line of a file, at most n bytes of it.
func readFirstLine(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading a report: %w", err)
	}
	defer f.Close()
	buf := make([]byte, n)
	m, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading a report: %w", err)
	}
	line, _, _ := bytes.Cut(buf[:m], []byte{'\n'})
	return line, nil
}
