package macos

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// file is one file or folder of a package's payload or scripts, by the
// "./"-relative path that cpio and the BOM store.
type file struct {
	Path     string
	Mode     uint32 // type and permission bits, as st_mode: 0o100755, 0o40755
	UID, GID uint32
	MTime    int64
	Data     []byte
}

// The type bits of a mode, as st_mode holds them.
const (
	modeType = 0o170000
	modeDir  = 0o040000
	modeFile = 0o100000
)

func (f file) isDir() bool { return f.Mode&modeType == modeDir }

// Limits of readCpio: a package's payload is the agent and a few small
// files.
const (
	maxCpioEntries = 4096
	maxCpioBytes   = 256 << 20
	maxPath        = 1024
)

// The "odc" (POSIX.1 portable) cpio header: magic, then dev, ino, mode,
// uid, gid, nlink, rdev, mtime, namesize and filesize in octal digits of
// these widths. The name (with its NUL) and the data follow unpadded.
const cpioMagic = "070707"

var cpioFields = [...]int{6, 6, 6, 6, 6, 6, 6, 11, 6, 11}

const (
	cpioHeaderSize = 76
	cpioTrailer    = "TRAILER!!!"
)

// gzipCpio returns files as the gzip-compressed odc cpio archive that a
// flat package's Payload and Scripts are, in the order given, ending with
// the trailer. Inodes are numbered in order, so that no two entries look
// like hard links.
func gzipCpio(files []file) ([]byte, error) {
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("compressing the cpio archive: %w", err)
	}
	w := bufio.NewWriter(zw)
	for i, f := range files {
		nlink := uint64(1)
		if f.isDir() {
			nlink = 2
		}
		if err := writeCpioEntry(w, f.Path, uint64(i+1), uint64(f.Mode), uint64(f.UID), uint64(f.GID), nlink, uint64(f.MTime), f.Data); err != nil {
			return nil, err
		}
	}
	if err := writeCpioEntry(w, cpioTrailer, 0, 0, 0, 0, 1, 0, nil); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("compressing the cpio archive: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing the cpio archive: %w", err)
	}
	return out.Bytes(), nil
}

func writeCpioEntry(w *bufio.Writer, name string, ino, mode, uid, gid, nlink, mtime uint64, data []byte) error {
	values := [...]uint64{0, ino, mode, uid, gid, nlink, 0, mtime, uint64(len(name) + 1), uint64(len(data))}
	w.WriteString(cpioMagic)
	for i, v := range values {
		s := strconv.FormatUint(v, 8)
		if len(s) > cpioFields[i] {
			return fmt.Errorf("cpio entry %s: %d does not fit %d octal digits", name, v, cpioFields[i])
		}
		w.WriteString(strings.Repeat("0", cpioFields[i]-len(s)) + s)
	}
	w.WriteString(name)
	w.WriteByte(0)
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("writing a cpio entry: %w", err)
	}
	return nil
}

// errCpio is wrapped by every error about a malformed cpio archive.
var errCpio = errors.New("malformed cpio archive")

// readGzipCpio reads a gzip-compressed odc cpio archive back, as
// installer does: every entry up to the trailer, within the limits above.
func readGzipCpio(b []byte) ([]file, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCpio, err)
	}
	r := bufio.NewReader(io.LimitReader(zr, maxCpioBytes+1))
	var files []file
	seen := map[string]bool{}
	read := 0
	for {
		var h [cpioHeaderSize]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return nil, fmt.Errorf("%w: header %d: %w", errCpio, len(files)+1, err)
		}
		if string(h[:6]) != cpioMagic {
			return nil, fmt.Errorf("%w: header %d: magic %q, want %q (odc)", errCpio, len(files)+1, h[:6], cpioMagic)
		}
		var v [len(cpioFields)]uint64
		at := 6
		for i, n := range cpioFields {
			if v[i], err = strconv.ParseUint(string(h[at:at+n]), 8, 64); err != nil {
				return nil, fmt.Errorf("%w: header %d: field %d %q is not octal", errCpio, len(files)+1, i, h[at:at+n])
			}
			at += n
		}
		nameSize, size := v[8], v[9]
		read += cpioHeaderSize + int(min(nameSize, maxCpioBytes)) + int(min(size, maxCpioBytes))
		switch {
		case nameSize < 2 || nameSize > maxPath:
			return nil, fmt.Errorf("%w: header %d: name of %d bytes", errCpio, len(files)+1, nameSize)
		case read > maxCpioBytes:
			return nil, fmt.Errorf("%w: over %d bytes", errCpio, maxCpioBytes)
		}
		name := make([]byte, nameSize)
		if _, err := io.ReadFull(r, name); err != nil {
			return nil, fmt.Errorf("%w: name %d: %w", errCpio, len(files)+1, err)
		}
		if name[nameSize-1] != 0 || bytes.IndexByte(name[:nameSize-1], 0) >= 0 {
			return nil, fmt.Errorf("%w: name %d %q is not one NUL-terminated string", errCpio, len(files)+1, name)
		}
		// ReadAll grows with what arrives: a header cannot make it
		// allocate more than the archive holds.
		data, err := io.ReadAll(io.LimitReader(r, int64(size)))
		if err != nil || uint64(len(data)) != size {
			return nil, fmt.Errorf("%w: data of %q cut short (%d of %d bytes)", errCpio, name[:nameSize-1], len(data), size)
		}
		if size == 0 {
			data = nil
		}
		path := string(name[:nameSize-1])
		if path == cpioTrailer {
			return files, nil
		}
		if len(files) == maxCpioEntries {
			return nil, fmt.Errorf("%w: over %d entries", errCpio, maxCpioEntries)
		}
		f := file{Path: path, Mode: uint32(v[2]), UID: uint32(v[3]), GID: uint32(v[4]), MTime: int64(v[7]), Data: data}
		if f.isDir() && size > 0 {
			return nil, fmt.Errorf("%w: folder %q has %d bytes of data", errCpio, path, size)
		}
		if seen[path] {
			return nil, fmt.Errorf("%w: %q twice", errCpio, path)
		}
		seen[path] = true
		files = append(files, f)
	}
}
