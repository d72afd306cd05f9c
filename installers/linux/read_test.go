package linux

// Readers of what the packages hold, for the tests: a .deb (an ar archive
// of debian-binary, control.tar.gz and data.tar.gz) and an .rpm (lead,
// signature and main headers, a gzipped cpio payload), read with the
// standard library and cpio, without dpkg or rpm.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/cavaliergopher/cpio"
)

// arMember is one member of an ar archive.
type arMember struct {
	name     string
	mtime    int64
	uid, gid int
	mode     int64
	data     []byte
}

// readAr reads a common-format ar archive, as dpkg writes and reads.
func readAr(b []byte) ([]arMember, error) {
	const magic, headerSize = "!<arch>\n", 60
	if !bytes.HasPrefix(b, []byte(magic)) {
		return nil, errors.New("ar: no magic")
	}
	b = b[len(magic):]
	var ms []arMember
	for len(b) > 0 {
		if len(b) < headerSize || string(b[58:60]) != "`\n" {
			return nil, fmt.Errorf("ar: bad header after %d members", len(ms))
		}
		h := b[:headerSize]
		field := func(from, to int) string { return strings.TrimSpace(string(h[from:to])) }
		var m arMember
		var err error
		m.name = strings.TrimSuffix(field(0, 16), "/")
		nums := []struct {
			s    string
			base int
			to   *int64
		}{{field(16, 28), 10, &m.mtime}, {field(40, 48), 8, &m.mode}}
		for _, n := range nums {
			if *n.to, err = strconv.ParseInt(n.s, n.base, 64); err != nil {
				return nil, fmt.Errorf("ar: member %q: %w", m.name, err)
			}
		}
		if m.uid, err = strconv.Atoi(field(28, 34)); err != nil {
			return nil, fmt.Errorf("ar: member %q uid: %w", m.name, err)
		}
		if m.gid, err = strconv.Atoi(field(34, 40)); err != nil {
			return nil, fmt.Errorf("ar: member %q gid: %w", m.name, err)
		}
		size, err := strconv.Atoi(field(48, 58))
		if err != nil || size > len(b)-headerSize {
			return nil, fmt.Errorf("ar: member %q: bad size %q", m.name, field(48, 58))
		}
		m.data = b[headerSize : headerSize+size]
		b = b[headerSize+size:]
		if size%2 == 1 && len(b) > 0 {
			b = b[1:] // members start at even offsets
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// tarEntry is one entry of a tar archive with its content.
type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

// readTarGz reads a gzipped tar archive, in order.
func readTarGz(b []byte) ([]tarEntry, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var es []tarEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return es, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		es = append(es, tarEntry{h, data})
	}
}

// debFile is a .deb read back.
type debFile struct {
	members []arMember
	control map[string]tarEntry // control.tar.gz by name: control, conffiles, postinst...
	data    []tarEntry          // data.tar.gz
}

func readDeb(b []byte) (*debFile, error) {
	ms, err := readAr(b)
	if err != nil {
		return nil, err
	}
	if len(ms) != 3 || ms[0].name != "debian-binary" || ms[1].name != "control.tar.gz" || ms[2].name != "data.tar.gz" {
		return nil, fmt.Errorf("deb: members %v, want debian-binary, control.tar.gz, data.tar.gz", ms)
	}
	d := &debFile{members: ms, control: map[string]tarEntry{}}
	control, err := readTarGz(ms[1].data)
	if err != nil {
		return nil, fmt.Errorf("deb: control.tar.gz: %w", err)
	}
	for _, e := range control {
		d.control[strings.TrimPrefix(e.hdr.Name, "./")] = e
	}
	if d.data, err = readTarGz(ms[2].data); err != nil {
		return nil, fmt.Errorf("deb: data.tar.gz: %w", err)
	}
	return d, nil
}

// field returns a field of the deb's control file.
func (d *debFile) field(name string) string {
	for line := range strings.Lines(string(d.control["control"].data)) {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// RPM header tags the tests read.
const (
	tagName        = 1000
	tagVersion     = 1001
	tagRelease     = 1002
	tagBuildTime   = 1006
	tagBuildHost   = 1007
	tagArch        = 1022
	tagPreIn       = 1023
	tagPostIn      = 1024
	tagPreUn       = 1025
	tagPostUn      = 1026
	tagFileModes   = 1030
	tagFileMTimes  = 1034
	tagFileFlags   = 1037
	tagFileUser    = 1039
	tagFileGroup   = 1040
	tagRequireName = 1049
	tagDirIndexes  = 1116
	tagBaseNames   = 1117
	tagDirNames    = 1118
	tagSuggestName = 5049
)

// RPM file flags.
const (
	rpmFileConfig    = 1 << 0
	rpmFileNoReplace = 1 << 4
)

// rpmEntry is one tag of an rpm header.
type rpmEntry struct {
	typ, count uint32
	data       []byte // the header's store from the entry's offset on
}

// rpmFile is an .rpm read back: its main header and its payload's files.
type rpmFile struct {
	tags  map[int]rpmEntry
	files map[string]*cpioEntry
}

type cpioEntry struct {
	hdr  *cpio.Header
	data []byte
}

// readRPM reads an rpm: the 96-byte lead, the signature header (padded
// to 8 bytes), the main header, then the payload, gzipped cpio.
func readRPM(b []byte) (*rpmFile, error) {
	if len(b) < 96 || !bytes.Equal(b[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, errors.New("rpm: no lead")
	}
	off := 96
	_, n, err := readRPMHeader(b[off:])
	if err != nil {
		return nil, fmt.Errorf("rpm: signature: %w", err)
	}
	off = (off + n + 7) &^ 7
	r := &rpmFile{files: map[string]*cpioEntry{}}
	if r.tags, n, err = readRPMHeader(b[off:]); err != nil {
		return nil, fmt.Errorf("rpm: header: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b[off+n:]))
	if err != nil {
		return nil, fmt.Errorf("rpm: payload: %w", err)
	}
	cr := cpio.NewReader(zr)
	for {
		h, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return r, nil
		}
		if err != nil {
			return nil, fmt.Errorf("rpm: payload: %w", err)
		}
		data, err := io.ReadAll(cr)
		if err != nil {
			return nil, fmt.Errorf("rpm: payload: %w", err)
		}
		r.files[path.Clean("/"+h.Name)] = &cpioEntry{h, data}
	}
}

// readRPMHeader reads a header structure and returns its tags and size.
func readRPMHeader(b []byte) (map[int]rpmEntry, int, error) {
	if len(b) < 16 || !bytes.Equal(b[:4], []byte{0x8e, 0xad, 0xe8, 0x01}) {
		return nil, 0, errors.New("no header magic")
	}
	nindex, hsize := int(binary.BigEndian.Uint32(b[8:])), int(binary.BigEndian.Uint32(b[12:]))
	storeAt := 16 + 16*nindex
	if nindex > 10000 || storeAt+hsize > len(b) {
		return nil, 0, errors.New("header larger than the file")
	}
	store := b[storeAt : storeAt+hsize]
	tags := map[int]rpmEntry{}
	for i := range nindex {
		e := b[16+16*i:]
		tag, typ, offset, count := binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:]), binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])
		if int(offset) > len(store) {
			return nil, 0, fmt.Errorf("tag %d: offset past the store", tag)
		}
		tags[int(tag)] = rpmEntry{typ: typ, count: count, data: store[offset:]}
	}
	return tags, storeAt + hsize, nil
}

// strs returns a string, string array or i18n string tag's values.
func (r *rpmFile) strs(tag int) []string {
	e, ok := r.tags[tag]
	if !ok {
		return nil
	}
	var out []string
	data := e.data
	for range e.count {
		s, rest, _ := bytes.Cut(data, []byte{0})
		out = append(out, string(s))
		data = rest
	}
	return out
}

// str returns a string tag's value.
func (r *rpmFile) str(tag int) string {
	if s := r.strs(tag); len(s) > 0 {
		return s[0]
	}
	return ""
}

// ints returns an integer tag's values.
func (r *rpmFile) ints(tag int) []int64 {
	e, ok := r.tags[tag]
	if !ok {
		return nil
	}
	size := map[uint32]int{2: 1, 3: 2, 4: 4, 5: 8}[e.typ]
	var out []int64
	for i := range int(e.count) {
		v := e.data[i*size:]
		switch size {
		case 1:
			out = append(out, int64(v[0]))
		case 2:
			out = append(out, int64(binary.BigEndian.Uint16(v)))
		case 4:
			out = append(out, int64(binary.BigEndian.Uint32(v)))
		case 8:
			out = append(out, int64(binary.BigEndian.Uint64(v)))
		}
	}
	return out
}

// rpmFileInfo is what the header says of one file.
type rpmFileInfo struct {
	mode         int64
	mtime, flags int64
	user, group  string
}

// fileInfos returns the header's file list by path.
func (r *rpmFile) fileInfos() map[string]rpmFileInfo {
	dirs, bases, idx := r.strs(tagDirNames), r.strs(tagBaseNames), r.ints(tagDirIndexes)
	modes, mtimes, flags := r.ints(tagFileModes), r.ints(tagFileMTimes), r.ints(tagFileFlags)
	users, groups := r.strs(tagFileUser), r.strs(tagFileGroup)
	out := map[string]rpmFileInfo{}
	for i, base := range bases {
		out[dirs[idx[i]]+base] = rpmFileInfo{mode: modes[i], mtime: mtimes[i], flags: flags[i], user: users[i], group: groups[i]}
	}
	return out
}
