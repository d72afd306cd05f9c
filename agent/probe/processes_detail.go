package probe

import (
	"cmp"
	"context"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sondehq/sonde/protocol"
)

// This file holds what the processes probe reads of the processes it
// shows, beyond the listing: user, executable, command line. The platform
// files read them (readDetail); the joining, bounding and scrubbing of
// command lines is done here, the same everywhere.

const (
	// maxCmdline bounds the command line shown.
	maxCmdline = 1 << 10
	// maxCmdlineRead bounds the command line read and scrubbed; beyond it,
	// nothing is read. It is wider than what is shown so that a secret
	// that straddles the cut at maxCmdline is seen whole by the scrubber
	// (up to 512 bytes past it), and no wider: scrubbing costs about a
	// microsecond a byte, far more than reading.
	maxCmdlineRead = maxCmdline + 512
	// maxExe bounds an executable's path.
	maxExe = 1 << 10
	// maxKeptDetails bounds the processes whose details are kept between
	// calls: those shown at the last call and, as room allows, those shown
	// before that still live.
	maxKeptDetails = 64
)

// cmdlineSeed keys the hashes of raw command lines kept between calls.
var cmdlineSeed = maphash.MakeSeed()

// procDetail is what the probe read of one shown process beyond its
// listing. The user and the executable stay for the process's life (an
// exec changes its name, and then they are read again); the command line
// is read at every call, since a process may rewrite it.
type procDetail struct {
	started float64 // with name, tells the same process from a new one
	name    string
	ppid    int32
	user    string
	exe     string
	cmdline string // scrubbed and bounded
	cut     bool
	// rawHash is the hash of the raw command line last scrubbed (as read,
	// before its arguments are joined), and rawCut says it was read in
	// part: the same raw line is then shown again without being joined and
	// scrubbed anew, which costs far more than reading it (a microsecond a
	// byte). found is what the scrub removed from it, counted again in
	// each result that shows it.
	rawHash uint64
	rawCut  bool
	found   []protocol.Scrub
	// shown is the probe's call (full, or health for topDetails) at
	// which the process was last shown.
	shown uint64
}

// detail returns what is shown of process s beyond its listing, from the
// previous call's reading where it still holds.
func (p *processesProbe) detail(ctx context.Context, env *Env, s *procSample) procDetail {
	d, known := p.details[s.pid]
	return p.refresh(ctx, env, s, d, known, true)
}

// keepDetails keeps, for the next call, what was read of the processes
// shown at this one, and of those shown before that still live (listed at
// this call, same start and name), the most recently shown first, up to
// maxKeptDetails: the CPU list changes at every call, and a process back
// in it is then not read afresh (its user from /proc/<pid>/status, its
// executable), nor its unchanged command line scrubbed again.
func (p *processesProbe) keepDetails(shown map[int32]procDetail) {
	p.calls++
	for pid, d := range shown {
		d.shown = p.calls
		shown[pid] = d
	}
	var older []int32
	for pid, d := range p.details {
		_, now := shown[pid]
		if prev, ok := p.prev[pid]; !now && ok && prev.started == d.started && prev.name == d.name {
			older = append(older, pid)
		}
	}
	slices.SortFunc(older, func(a, b int32) int {
		return cmp.Or(cmp.Compare(p.details[b].shown, p.details[a].shown), cmp.Compare(a, b))
	})
	for _, pid := range older[:min(len(older), max(0, maxKeptDetails-len(shown)))] {
		shown[pid] = p.details[pid]
	}
	p.details = shown
}

// refresh returns d, what was read of process s before (if known), with
// its command line read again: the whole of it where d is of another
// process (an exec, or a PID reused), its user and executable too when
// static is set.
func (p *processesProbe) refresh(ctx context.Context, env *Env, s *procSample, d procDetail, known, static bool) procDetail {
	known = known && d.started == s.started && d.name == s.name
	if !known {
		d = procDetail{started: s.started, name: s.name}
	}
	raw, cut := p.readDetail(ctx, s, &d, !known && static)
	h := maphash.Bytes(cmdlineSeed, raw)
	if known && h == d.rawHash && cut == d.rawCut {
		env.ScrubKept(d.found)
		return d
	}
	text, textCut := cmdlineText(raw, cut)
	scrubbed, found := env.ScrubLine(text, "cmdline")
	d.rawHash, d.rawCut, d.found = h, cut, found
	d.cmdline, d.cut = bound(scrubbed, maxCmdline, textCut)
	return d
}

// joinArgv joins the NUL-separated arguments of a Linux command line
// (/proc/<pid>/cmdline) with spaces, quoting those that hold blanks,
// quotes or unprintable bytes, the way a shell would take them back. A
// line of one argument is a title the process wrote over its arguments
// ("postgres: checkpointer", "sshd: /usr/sbin/sshd [listener]"), kept
// as written. cut says argv was read only in part; the result says
// whether it is cut, at maxCmdlineRead bytes.
func joinArgv(argv []byte, cut bool) (string, bool) {
	for len(argv) > 0 && argv[len(argv)-1] == 0 {
		argv = argv[:len(argv)-1] // the terminator, and padding from a rewritten title
	}
	if indexNUL(argv) < 0 {
		return bound(strings.TrimRight(string(argv), " "), maxCmdlineRead, cut)
	}
	var b strings.Builder
	for len(argv) > 0 && b.Len() < maxCmdlineRead {
		arg := argv
		if i := indexNUL(argv); i >= 0 {
			arg, argv = argv[:i], argv[i+1:]
		} else {
			argv = nil
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if needsQuote(arg) {
			b.WriteString(strconv.Quote(string(arg)))
		} else {
			b.Write(arg)
		}
	}
	return bound(b.String(), maxCmdlineRead, cut || len(argv) > 0)
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// needsQuote reports whether arg would not read back as one argument, or
// not be readable, unquoted.
func needsQuote(arg []byte) bool {
	if len(arg) == 0 {
		return true
	}
	for len(arg) > 0 {
		r, n := utf8.DecodeRune(arg)
		if r == utf8.RuneError && n == 1 || r <= ' ' || r == '"' || r == '\'' || !unicode.IsPrint(r) {
			return true
		}
		arg = arg[n:]
	}
	return false
}
