package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/common"
)

// Bounds of what the dpkg source reads.
const (
	// maxDpkgStatus bounds the bytes read of /var/lib/dpkg/status (a
	// desktop with 5,000 packages has about 10 MB).
	maxDpkgStatus = 64 << 20
	// maxDpkgLog bounds the bytes read of each dpkg.log, from its end.
	maxDpkgLog = 16 << 20
	// maxDpkgLogPackages bounds the packages whose times the logs give.
	maxDpkgLogPackages = 100000
)

// dpkgEntry is what the status file says of one package.
type dpkgEntry struct {
	name, version, arch string
	// state is the third word of Status: installed, half-configured ...
	state string
}

// readDpkg lists the packages dpkg knows as (at least partly) installed,
// with the time each last finished installing according to dpkg.log and
// dpkg.log.1, else the mtime of its file list in /var/lib/dpkg/info.
func readDpkg(ctx context.Context, p *softwareProbe) ([]SoftwarePackage, int, bool, error) {
	path := Path(ctx, common.HostVarEnvKey, "lib/dpkg/status")
	b, truncated, err := readBounded(path, maxDpkgStatus, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, false, notAvailable("no dpkg database (%s)", path)
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("dpkg status: %w", err)
	}
	entries, more := parseDpkgStatus(b, maxSoftwareFound)
	_, loc := p.zone(ctx)
	log := newDpkgLog()
	for _, name := range []string{"dpkg.log.1", "dpkg.log"} { // oldest first: later lines win
		if b, _, err := readBounded(Path(ctx, common.HostVarEnvKey, "log", name), maxDpkgLog, true); err == nil {
			log.parse(b, loc)
		}
	}
	times := log.times
	info := Path(ctx, common.HostVarEnvKey, "lib/dpkg/info")
	pkgs := make([]SoftwarePackage, 0, len(entries))
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, 0, false, fmt.Errorf("reading dpkg status: %w", err)
		}
		pk := SoftwarePackage{Name: e.name, Version: e.version, Arch: e.arch}
		if e.state != "installed" {
			pk.Status = e.state
		}
		pk.InstalledAt = times[e.name+":"+e.arch]
		if pk.InstalledAt == 0 {
			pk.InstalledAt = times[e.name] // dpkg before 1.16 logged no architecture
		}
		if pk.InstalledAt == 0 && dpkgSafeName(e.name) && dpkgSafeName(e.arch) {
			// dpkg rewrites a package's file list whenever it unpacks it.
			if pk.InstalledAt = mtimeOf(info + "/" + e.name + ":" + e.arch + ".list"); pk.InstalledAt == 0 {
				pk.InstalledAt = mtimeOf(info + "/" + e.name + ".list")
			}
		}
		pkgs = append(pkgs, pk)
	}
	// Past maxSoftwareFound the entries kept are the first in the file,
	// not necessarily the first by name.
	return pkgs, more, truncated || more > 0, nil
}

// parseDpkgStatus reads the stanzas of a dpkg status file and returns the
// packages present on the system (every state but not-installed and
// config-files), at most limit of them, and how many more there are.
func parseDpkgStatus(b []byte, limit int) (entries []dpkgEntry, more int) {
	var e dpkgEntry
	end := func() {
		if e.name != "" && e.state != "" && e.state != "not-installed" && e.state != "config-files" {
			if len(entries) < limit {
				entries = append(entries, e)
			} else {
				more++
			}
		}
		e = dpkgEntry{}
	}
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			end()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a continuation of a multi-line field
		}
		key, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch string(key) {
		case "Package":
			e.name = string(value)
		case "Version":
			e.version = string(value)
		case "Architecture":
			e.arch = string(value)
		case "Status":
			// "want flag state": install ok installed, hold ok half-configured ...
			if f := bytes.Fields(value); len(f) == 3 {
				e.state = string(f[2])
			}
		}
	}
	end()
	return entries, more
}

// dpkgLog is what dpkg's logs tell of when packages were installed.
type dpkgLog struct {
	// times maps "name:arch" to when the package last finished
	// installing, in Unix seconds.
	times map[string]int64
	// pending holds the packages being installed or upgraded, whose next
	// "status installed" line ends that.
	pending map[string]bool
}

func newDpkgLog() *dpkgLog {
	return &dpkgLog{times: map[string]int64{}, pending: map[string]bool{}}
}

// parse reads one log, after the older ones: a package finished
// installing at the "status installed" line that follows an "install" or
// "upgrade" of it. Other "status installed" lines only mean that dpkg ran
// the package's triggers, and are ignored. Lines are in the host's local
// time, loc.
//
//	2026-11-02 10:14:02 upgrade curl:amd64 8.4.0-1 8.5.0-2
//	2026-11-02 10:14:03 status installed curl:amd64 8.5.0-2
func (l *dpkgLog) parse(b []byte, loc *time.Location) {
	times, pending := l.times, l.pending
	var f [5][]byte
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		if logFields(line, &f) < 4 {
			continue
		}
		switch string(f[2]) {
		case "install", "upgrade":
			if len(pending) < maxDpkgLogPackages {
				pending[string(f[3])] = true
			}
		case "status":
			if string(f[3]) != "installed" || !pending[string(f[4])] {
				continue
			}
			t, err := time.ParseInLocation("2006-01-02 15:04:05", string(f[0])+" "+string(f[1]), loc)
			if err != nil {
				continue
			}
			pkg := string(f[4])
			delete(pending, pkg)
			if _, known := times[pkg]; known || len(times) < maxDpkgLogPackages {
				times[pkg] = t.Unix()
			}
		}
	}
}

// logFields splits the first fields of a log line, separated by spaces or
// tabs, into f without allocating (dpkg.log has thousands of lines), and
// returns how many it found; fields past len(f) are not split.
func logFields(line []byte, f *[5][]byte) int {
	n := 0
	for n < len(f) {
		line = bytes.TrimLeft(line, " \t\r")
		if len(line) == 0 {
			break
		}
		end := bytes.IndexAny(line, " \t\r")
		if end < 0 {
			end = len(line)
		}
		f[n], line = line[:end], line[end:]
		n++
	}
	for i := n; i < len(f); i++ {
		f[i] = nil
	}
	return n
}

// dpkgSafeName says whether a package or architecture name can be part of
// a file name in /var/lib/dpkg/info: Debian's names have no slash and do
// not start with a dot.
func dpkgSafeName(s string) bool {
	return s != "" && !strings.ContainsAny(s, "/\x00") && s[0] != '.'
}

// readBounded reads at most limit bytes of the file at path: its start,
// or with tail its end (from the first line start within it). truncated
// says the file was longer.
func readBounded(path string, limit int64, tail bool) ([]byte, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("reading: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("reading: %w", err)
	}
	size := fi.Size()
	if tail && size > limit {
		if _, err := f.Seek(size-limit, io.SeekStart); err != nil {
			return nil, false, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	// Sized from the file, so that a large status file is read in one
	// allocation; a file that grows meanwhile still stops at the limit.
	buf := bytes.NewBuffer(make([]byte, 0, min(max(size, 0), limit)+512))
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", path, err)
	}
	b := buf.Bytes()
	truncated := int64(len(b)) > limit || tail && size > limit
	if int64(len(b)) > limit {
		b = b[:limit]
	}
	if tail && size > limit {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return b, truncated, nil
}
