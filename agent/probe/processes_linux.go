//go:build linux

package probe

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"

	"github.com/shirou/gopsutil/v3/common"
	"golang.org/x/sys/unix"
)

// userHZ is the unit of the times in /proc/<pid>/stat: the kernel ABI
// fixes it at 100 on every architecture, whatever the kernel's own HZ.
const userHZ = 100

// procStates names the state letters of /proc/<pid>/stat.
var procStates = [256]string{
	'R': "running", 'S': "sleeping", 'D': "disk-sleep", 'I': "idle",
	'T': "stopped", 't': "stopped", 'Z': "zombie", 'X': "dead",
	'W': "paging", 'P': "parked", 'K': "wakekill",
}

// sample reads /proc/<pid>/stat of every process into p.samples, with
// bare system calls relative to an open /proc, into one reused buffer:
// gopsutil's Process methods read several files per process through
// os.Open and cost ten times more. The files of processes seen at the
// previous call are kept open, up to maxKeptStats, and read again with
// pread (see statFiles). The clock is the uptime, the clock process start
// times are counted on.
func (p *processesProbe) sample(ctx context.Context) (procSnapshot, error) {
	return p.list(ctx, true)
}

// list is sample; withMemTotal reads the memory total the full variant's
// memory percentages need.
func (p *processesProbe) list(ctx context.Context, withMemTotal bool) (procSnapshot, error) {
	var snap procSnapshot
	p.grow()
	up, idle, err := readUptimeIdle(ctx)
	if err != nil {
		return snap, err
	}
	snap.clock, snap.idle = up, idle
	if p.bootTime == 0 {
		if bt, err := readBootTime(ctx); err == nil && bt > 0 {
			p.bootTime = float64(bt) // fixed while the machine runs
		}
	}
	snap.epoch = -1
	if p.bootTime > 0 {
		snap.epoch = p.bootTime
	}
	dir, err := openProcDir(ctx)
	if err != nil {
		return snap, err
	}
	defer unix.Close(dir)
	if withMemTotal {
		if b, err := readFileAt(dir, "meminfo", p.buf); err == nil {
			kb, _ := lineUint(b, "MemTotal:")
			snap.memTotal = kb << 10
		}
	}
	kept := p.statFiles(Path(ctx, common.HostProcEnvKey))
	p.samples = p.samples[:0]
	err = eachDirent(dir, p.dirBuf, func(name []byte) bool {
		pid := atou(name)
		if pid == 0 || pid > math.MaxInt32 {
			return true
		}
		if snap.listed++; snap.listed%256 == 0 && ctx.Err() != nil {
			return false // a machine with a very great many processes
		}
		if s, ok := p.readStat(dir, kept, int32(pid), name); ok {
			p.samples = append(p.samples, s)
		}
		return true
	})
	kept.sweep()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return snap, fmt.Errorf("listing processes: %w", err)
	}
	return snap, nil
}

// readStat reads and parses process pid's stat, from its kept file if it
// has one, else opening it (name is the PID as listed); the file is then
// kept where the process was seen at the previous call too.
func (p *processesProbe) readStat(dir int, kept *statFiles, pid int32, name []byte) (procSample, bool) {
	prev, seen := p.prev[pid]
	if b, ok := kept.read(pid, p.buf); ok {
		if s, ok := p.parseStat(b, pid, prev.name); ok {
			return s, true
		}
		kept.drop(pid)
	}
	fd, err := unix.Openat(dir, string(name)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return procSample{}, false // exited since the listing
	}
	b, err := readRecord(fd, "stat", p.buf)
	if err != nil {
		unix.Close(fd)
		return procSample{}, false
	}
	s, ok := p.parseStat(b, pid, prev.name)
	if !ok || !seen || prev.started != s.started || !kept.keep(pid, fd) {
		unix.Close(fd) // new since the last call, or no room to keep it
	}
	return s, ok
}

// parseStat parses a stat file's content for process pid; prevName is the
// process's name at the previous call, kept rather than allocated again
// when it has not changed.
func (p *processesProbe) parseStat(b []byte, pid int32, prevName string) (procSample, bool) {
	s, name, ok := parseProcStat(b)
	if !ok {
		return s, false
	}
	if s.name = prevName; string(name) != prevName {
		s.name = string(name)
	}
	s.pid = pid
	s.rss *= p.pageSize
	return s, true
}

// sampleOne reads process pid's /proc/<pid>/stat, for callers that know
// the processes they want by PID; false when it is gone.
func (p *processesProbe) sampleOne(ctx context.Context, pid int32) (procSample, bool) {
	p.grow()
	b, err := readRecordAt(unix.AT_FDCWD, Path(ctx, common.HostProcEnvKey, strconv.Itoa(int(pid)), "stat"), p.buf)
	if err != nil {
		return procSample{}, false
	}
	s, name, ok := parseProcStat(b)
	s.name, s.pid = string(name), pid
	return s, ok
}

// grow allocates the probe's buffers on first use.
func (p *processesProbe) grow() {
	if p.buf == nil {
		p.buf = make([]byte, 8<<10)
		p.dirBuf = make([]byte, 16<<10)
	}
}

// openProcDir opens the host's /proc for reading relative to it.
func openProcDir(ctx context.Context) (int, error) {
	path := Path(ctx, common.HostProcEnvKey)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("listing processes: %w", &fs.PathError{Op: "open", Path: path, Err: err})
	}
	return fd, nil
}

// pfKthread is the flag of a kernel thread in /proc/<pid>/stat's flags
// (PF_KTHREAD, include/linux/sched.h).
const pfKthread = 0x00200000

// parseProcStat parses the fields of a /proc/<pid>/stat line that the
// probe reports, but for the name, which it returns as it is in b. The
// name sits in parentheses and may hold spaces and parentheses itself, so
// the fields start after the last ')'.
func parseProcStat(b []byte) (s procSample, name []byte, ok bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 >= len(b) {
		return s, nil, false
	}
	name = b[open+1 : end]
	rest := b[end+2:]
	var utime, stime, start uint64
	for i := 0; len(rest) > 0 && i <= 21; i++ {
		f := rest
		if j := bytes.IndexByte(rest, ' '); j >= 0 {
			f, rest = rest[:j], rest[j+1:]
		} else {
			rest = nil
		}
		switch i {
		case 0:
			if len(f) == 0 {
				return s, nil, false
			}
			s.state = procStates[f[0]]
			if s.state == "" {
				s.state = string(f)
			}
		case 1:
			if ppid := atou(f); ppid <= math.MaxInt32 {
				s.ppid = int32(ppid)
			}
		case 6:
			s.kthread = atou(f)&pfKthread != 0
		case 11:
			utime = atou(f)
		case 12:
			stime = atou(f)
		case 17:
			if n := atou(f); n <= math.MaxInt32 {
				s.threads = int(n)
			}
		case 19:
			start = atou(f)
		case 21:
			s.rss = atou(f)
		}
	}
	s.cpu = float64(utime+stime) / userHZ
	s.started = float64(start) / userHZ
	return s, name, true
}

// atou parses a decimal unsigned integer without allocating; anything else
// (a negative RSS from a kernel oddity) reads as 0.
func atou(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// commLen is the length at which Linux cuts process names (TASK_COMM_LEN
// less its terminator).
const commLen = 15

// readDetail reads what the probe shows of process s beyond its stat: its
// command line as it is in /proc/<pid>/cmdline (valid until the next read;
// see cmdlineText), and when static is set its user and executable too.
// A kernel thread has neither, and is root's: nothing is read of it.
func (p *processesProbe) readDetail(ctx context.Context, s *procSample, d *procDetail, static bool) (raw []byte, cut bool) {
	d.ppid = s.ppid
	if s.kthread {
		if static {
			d.user = p.userName(ctx, "0")
		}
		return nil, false
	}
	dir := Path(ctx, common.HostProcEnvKey, strconv.Itoa(int(s.pid)))
	if static {
		d.user = p.user(ctx, s.pid)
		d.exe = readExe(dir + "/exe")
	}
	p.grow()
	b, err := readLimited(dir+"/cmdline", p.buf[:maxCmdlineRead+1])
	if err != nil {
		return nil, false // gone, or hidden (hidepid)
	}
	return b[:min(len(b), maxCmdlineRead)], len(b) > maxCmdlineRead
}

// cmdlineText is a command line read by readDetail as the probe shows
// it: its NUL-separated arguments joined (joinArgv).
func cmdlineText(raw []byte, cut bool) (string, bool) { return joinArgv(raw, cut) }

// exeForMatch returns the path of process pid's executable, to match a
// name asked for when the process's own name is cut or differs.
func (p *processesProbe) exeForMatch(ctx context.Context, pid int32) string {
	return readExe(Path(ctx, common.HostProcEnvKey, strconv.Itoa(int(pid)), "exe"))
}

// readExe returns the target of a /proc/<pid>/exe link, or "" when it
// cannot be read: a kernel thread, or another user's process without
// privilege.
func readExe(path string) string {
	var buf [4096]byte
	n, err := unix.Readlink(path, buf[:])
	if err != nil || n <= 0 {
		return ""
	}
	exe, _ := bound(string(buf[:n]), maxExe, false)
	return exe
}

// readLimited reads the file at path up to len(buf) bytes.
func readLimited(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return buf[:n], nil
}

// user returns the name of the effective user of process pid, or its
// numeric ID when /etc/passwd does not name it (directory users), or ""
// when the process is gone.
func (p *processesProbe) user(ctx context.Context, pid int32) string {
	p.grow()
	b, err := readRecordAt(unix.AT_FDCWD, Path(ctx, common.HostProcEnvKey, strconv.Itoa(int(pid)), "status"), p.buf)
	if err != nil {
		return ""
	}
	v, ok := lineValue(b, "Uid:")
	if !ok {
		return ""
	}
	f := bytes.Fields(v)
	if len(f) < 2 {
		return ""
	}
	return p.userName(ctx, string(f[1]))
}

// userName returns the name /etc/passwd gives the user ID uid, or uid.
func (p *processesProbe) userName(ctx context.Context, uid string) string {
	if p.uidNames == nil {
		p.uidNames = readPasswd(ctx)
	}
	if name, ok := p.uidNames[uid]; ok {
		return name
	}
	return uid
}

// readPasswd maps user IDs to names from the host's /etc/passwd.
func readPasswd(ctx context.Context) map[string]string {
	m := map[string]string{}
	b, err := os.ReadFile(Path(ctx, common.HostEtcEnvKey, "passwd"))
	if err != nil {
		return m
	}
	for line := range bytes.Lines(b) {
		f := bytes.SplitN(line, []byte{':'}, 4)
		if len(f) == 4 {
			if _, dup := m[string(f[2])]; !dup {
				m[string(f[2])] = string(f[0])
			}
		}
	}
	return m
}

// health reads the running, blocked and thread counts from system-wide
// counters and, unless the machine was quiet since the last listing (see
// quiet), lists the processes as the full variant does, one stat read
// each, to find the busiest (see processes_health.go). A quiet machine's
// processes are counted, not read.
func (p *processesProbe) health(ctx context.Context, env *Env) (*ProcessHealth, error) {
	p.grow()
	h := &ProcessHealth{}
	cpus := 0
	// Both files are made whole at the first read (single_open).
	if b, err := readRecordAt(unix.AT_FDCWD, Path(ctx, common.HostProcEnvKey, "stat"), p.buf); err == nil {
		running, _ := lineUint(b, "procs_running")
		blocked, _ := lineUint(b, "procs_blocked")
		h.Running, h.Blocked = int(running), int(blocked)
		cpus = onlineCPUs(b)
	}
	// The fourth field of loadavg is runnable/total scheduling entities.
	if b, err := readRecordAt(unix.AT_FDCWD, Path(ctx, common.HostProcEnvKey, "loadavg"), p.buf); err == nil {
		if f := bytes.Fields(b); len(f) >= 4 {
			if _, total, ok := bytes.Cut(f[3], []byte{'/'}); ok {
				h.Threads = int(atou(total))
			}
		}
	}
	if up, idle, err := readUptimeIdle(ctx); err == nil && p.quiet(up, idle, cpus) {
		n, err := p.count(ctx)
		h.Total = n
		return h, err
	}
	snap, err := p.list(ctx, false)
	if err != nil {
		return nil, err
	}
	h.Total = snap.listed
	if s := p.busiest(snap); s != nil {
		h.Top = p.topOf(ctx, env, snap, s)
	}
	return h, nil
}

// quietCores is the machine's CPU use, in cores over the window, under
// which the health variant does not look for the busiest process: no
// process used more than the whole machine did, and one that held less
// than half a core is nobody's culprit (process.runaway asks for 90% of
// one core, the hog findings for most of the machine). Reading every
// process's stat is most of a health sample's cost, and most samples fall
// on a quiet machine.
const quietCores = 0.5

// quiet reports whether the machine used less than quietCores since the
// last listing (by either variant: the window the CPU rates would cover),
// from /proc/uptime at now (up, and idle: the seconds all CPUs together
// were idle since boot) and cpus, the CPUs online. It is false when it
// cannot tell: no listing yet, no idle figure, no time gone by.
func (p *processesProbe) quiet(up, idle float64, cpus int) bool {
	if p.prevClock <= 0 || p.prevIdle < 0 || idle < p.prevIdle || cpus <= 0 {
		return false
	}
	span := up - p.prevClock
	if span <= 0 {
		return false
	}
	busy := span*float64(cpus) - (idle - p.prevIdle)
	return busy < quietCores*span
}

// onlineCPUs counts the per-CPU lines ("cpu0 ...") of /proc/stat, which
// lists the CPUs online.
func onlineCPUs(stat []byte) int {
	n := 0
	for line := range bytes.Lines(stat) {
		if len(line) > 3 && string(line[:3]) == "cpu" && line[3] >= '0' && line[3] <= '9' {
			n++
		}
	}
	return n
}

// count counts the processes /proc lists, reading none of them.
func (p *processesProbe) count(ctx context.Context) (int, error) {
	dir, err := openProcDir(ctx)
	if err != nil {
		return 0, err
	}
	defer unix.Close(dir)
	n := 0
	err = eachDirent(dir, p.dirBuf, func(name []byte) bool {
		if pid := atou(name); pid > 0 && pid <= math.MaxInt32 {
			n++
		}
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("listing processes: %w", err)
	}
	return n, nil
}
