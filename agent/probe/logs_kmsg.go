package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/common"
)

// kmsgReadSize is a read's buffer: /dev/kmsg returns one record per read
// and refuses a buffer smaller than the record (at most 8 KiB with its
// dictionary, CONSOLE_EXT_LOG_MAX).
const kmsgReadSize = 8 << 10

// maxKmsgLine bounds a line held while it is read from a plain file (a
// fixture); longer lines are dropped.
const maxKmsgLine = 16 << 10

// kmsgRecord is one record of the kernel's log buffer.
type kmsgRecord struct {
	facility, level int
	usec            uint64 // since boot
	msg             string
}

// parseKmsgRecord parses a record's first line,
// "prio,seq,usec,flags[,more];message", where prio is facility<<3|level.
// Non-printable bytes in the message come escaped (\x0a) from the kernel.
func parseKmsgRecord(line []byte) (kmsgRecord, bool) {
	head, msg, ok := bytes.Cut(line, []byte{';'})
	if !ok {
		return kmsgRecord{}, false
	}
	fields := bytes.SplitN(head, []byte{','}, 5)
	if len(fields) < 4 {
		return kmsgRecord{}, false
	}
	prio, err1 := strconv.ParseUint(string(fields[0]), 10, 31)
	_, err2 := strconv.ParseUint(string(fields[1]), 10, 64)
	usec, err3 := strconv.ParseUint(string(fields[2]), 10, 63)
	if err1 != nil || err2 != nil || err3 != nil {
		return kmsgRecord{}, false
	}
	return kmsgRecord{facility: int(prio >> 3), level: int(prio & 7), usec: usec, msg: string(msg)}, true
}

// kmsgScanner splits what reads of the kernel log return into records:
// the device returns one whole record per read, a plain file any chunk.
// Continuation lines (" KEY=value", the record's dictionary) are skipped.
type kmsgScanner struct {
	pending  []byte
	skipping bool // inside a line too long to keep
	fn       func(kmsgRecord)
}

func (s *kmsgScanner) feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !s.skipping && len(s.pending)+len(b) <= maxKmsgLine {
				s.pending = append(s.pending, b...)
			} else {
				s.pending, s.skipping = s.pending[:0], true
			}
			return
		}
		line := b[:i]
		if len(s.pending) > 0 {
			line = append(s.pending, line...)
		}
		if !s.skipping && len(line) <= maxKmsgLine {
			s.line(line)
		}
		s.pending, s.skipping = s.pending[:0], false
		b = b[i+1:]
	}
}

// end takes a last line without a newline.
func (s *kmsgScanner) end() {
	if !s.skipping && len(s.pending) > 0 {
		s.line(s.pending)
	}
	s.pending = nil
}

func (s *kmsgScanner) line(line []byte) {
	if len(line) == 0 || line[0] == ' ' {
		return
	}
	if rec, ok := parseKmsgRecord(line); ok {
		s.fn(rec)
	}
}

// readKmsg reads the kernel's log buffer without waiting for new records,
// keeping warnings and worse of the window and the kernel events. Times
// are boot time plus the record's microseconds, boot time being now less
// /proc/uptime: after a suspend, records may appear earlier than they
// were, as with dmesg -T.
func (p *logsProbe) readKmsg(ctx context.Context, r *logsRun, st *LogSource) error {
	path := Path(ctx, common.HostDevEnvKey, "kmsg")
	f, err := openKmsg(path)
	if errors.Is(err, fs.ErrNotExist) {
		return notAvailable("no kernel log device (/dev/kmsg)")
	}
	if err != nil {
		return fmt.Errorf("opening the kernel log: %w", err)
	}
	defer f.Close()
	up, err := readUptime(ctx)
	if err != nil {
		return err
	}
	boot := r.now.Add(-time.Duration(up * float64(time.Second)))
	if id, err := readTrimmed(Path(ctx, common.HostProcEnvKey, "sys", "kernel", "random", "boot_id")); err == nil {
		r.bootID = strings.ReplaceAll(id, "-", "")
	}
	sc := kmsgScanner{fn: func(rec kmsgRecord) { r.kmsgRecord(st, boot, rec) }}
	buf := make([]byte, kmsgReadSize)
	for total, reads := 0, 0; ; reads++ {
		if reads%256 == 0 && ctx.Err() != nil {
			return fmt.Errorf("reading the kernel log: %w", context.Cause(ctx))
		}
		n, err := f.Read(buf)
		sc.feed(buf[:n])
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the kernel log: %w", err)
		}
		if total >= p.limits.KmsgBytes {
			st.Truncated = true
			break
		}
	}
	sc.end()
	return nil
}

// kmsgRecord takes one record of the kernel log: boot is when the
// machine booted. The first record read is the oldest the kernel holds.
func (r *logsRun) kmsgRecord(st *LogSource, boot time.Time, rec kmsgRecord) {
	st.EntriesRead++
	t := boot.Add(time.Duration(rec.usec) * time.Microsecond)
	if st.EntriesRead == 1 {
		r.kmsgSince = t
	}
	e := logEntry{time: t, severity: rec.level, source: "kernel", message: rec.msg, kernel: rec.facility == 0}
	if !e.kernel {
		e.source = syslogIdentifier(rec.msg) // written by a program, as systemd does at boot
	}
	r.entry(st, e)
}

// syslogIdentifier returns the "name" of a message "name[pid]: text" or
// "name: text", or "kmsg".
func syslogIdentifier(msg string) string {
	i := strings.Index(msg, ": ")
	if i <= 0 || i > maxName {
		return "kmsg"
	}
	id := msg[:i]
	if open := strings.IndexByte(id, '['); open > 0 && strings.HasSuffix(id, "]") {
		id = id[:open]
	}
	if strings.ContainsAny(id, " []") {
		return "kmsg"
	}
	return id
}
