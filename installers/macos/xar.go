package macos

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A xar archive, the container of a flat installer package, is a 28-byte
// header, then the table of contents (XML, zlib-compressed), then the
// heap: the TOC's checksum at offset 0, then every file's data. Each file
// in the TOC gives its data's place in the heap, its encoding and the
// checksums of the stored and of the extracted bytes. This writes SHA-1
// checksums, xar's default and what every macOS release reads; the
// reader also takes SHA-256 file checksums.

const (
	xarMagic      = 0x78617221 // "xar!"
	xarHeaderSize = 28
	xarSHA1       = 1 // the header's cksum_alg
	xarTime       = "2006-01-02T15:04:05Z"
	xarZlib       = "application/x-gzip" // xar's name for zlib data
	xarRaw        = "application/octet-stream"
	maxXarTOC     = 4 << 20
	maxXarFiles   = 1024
	maxXarDepth   = 16
	maxXarSize    = 1 << 30
)

// xarEntry is one file or folder of a xar archive.
type xarEntry struct {
	Path string // slash-separated, relative
	Dir  bool
	Mode uint32 // permission bits
	Data []byte
	// Compress stores Data zlib-compressed; a Payload, gzip already, is
	// stored as it is, as pkgbuild does.
	Compress bool
}

// The TOC, as xar serializes it.
type (
	xarTOC struct {
		XMLName xml.Name `xml:"xar"`
		TOC     struct {
			Checksum struct {
				Style  string `xml:"style,attr"`
				Offset uint64 `xml:"offset"`
				Size   uint64 `xml:"size"`
			} `xml:"checksum"`
			CreationTime string    `xml:"creation-time"`
			Files        []xarFile `xml:"file"`
		} `xml:"toc"`
	}
	xarFile struct {
		ID    int       `xml:"id,attr"`
		Name  string    `xml:"name"`
		Type  string    `xml:"type"`
		Mode  string    `xml:"mode"`
		UID   int       `xml:"uid"`
		GID   int       `xml:"gid"`
		User  string    `xml:"user"`
		Group string    `xml:"group"`
		CTime string    `xml:"ctime"`
		MTime string    `xml:"mtime"`
		ATime string    `xml:"atime"`
		Data  *xarData  `xml:"data"`
		Files []xarFile `xml:"file"`
	}
	xarData struct {
		Length   uint64 `xml:"length"` // stored bytes
		Offset   uint64 `xml:"offset"` // in the heap
		Size     uint64 `xml:"size"`   // extracted bytes
		Encoding struct {
			Style string `xml:"style,attr"`
		} `xml:"encoding"`
		Archived  xarHash `xml:"archived-checksum"`
		Extracted xarHash `xml:"extracted-checksum"`
	}
	xarHash struct {
		Style string `xml:"style,attr"`
		Sum   string `xml:",chardata"`
	}
)

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

func zlibBytes(b []byte) ([]byte, error) {
	var out bytes.Buffer
	zw, err := zlib.NewWriterLevel(&out, zlib.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("compressing the xar table of contents: %w", err)
	}
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("compressing the xar table of contents: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing the xar table of contents: %w", err)
	}
	return out.Bytes(), nil
}

// writeXar returns the archive of entries, owned by root:wheel, every
// time mtime. A folder must be listed before what it holds.
func writeXar(entries []xarEntry, mtime time.Time) ([]byte, error) {
	var toc xarTOC
	toc.TOC.Checksum.Style, toc.TOC.Checksum.Size = "sha1", sha1.Size
	stamp := mtime.UTC().Format(xarTime)
	toc.TOC.CreationTime = stamp
	heap := make([]byte, sha1.Size) // the TOC's checksum goes first
	byPath := map[string]xarFile{}
	kids := map[string][]string{}
	for i, e := range entries {
		dir := path.Dir(e.Path)
		if parent, ok := byPath[dir]; (!ok || parent.Type != "directory") && dir != "." || !validName(path.Base(e.Path)) || path.Clean(e.Path) != e.Path {
			return nil, fmt.Errorf("xar: %q is not in a folder listed before it", e.Path)
		}
		if _, dup := byPath[e.Path]; dup {
			return nil, fmt.Errorf("xar: %q twice", e.Path)
		}
		f := xarFile{ID: i + 1, Name: path.Base(e.Path), Type: "file", Mode: fmt.Sprintf("%04o", e.Mode),
			User: "root", Group: "wheel", CTime: stamp, MTime: stamp, ATime: stamp}
		if e.Dir {
			f.Type = "directory"
		} else {
			stored := e.Data
			d := &xarData{Offset: uint64(len(heap)), Size: uint64(len(e.Data))}
			d.Encoding.Style = xarRaw
			if e.Compress {
				var err error
				if stored, err = zlibBytes(e.Data); err != nil {
					return nil, fmt.Errorf("xar: compressing %s: %w", e.Path, err)
				}
				d.Encoding.Style = xarZlib
			}
			d.Length = uint64(len(stored))
			d.Archived = xarHash{"sha1", sha1Hex(stored)}
			d.Extracted = xarHash{"sha1", sha1Hex(e.Data)}
			f.Data = d
			heap = append(heap, stored...)
		}
		byPath[e.Path] = f
		kids[dir] = append(kids[dir], e.Path)
	}
	var nest func(dir string) []xarFile
	nest = func(dir string) []xarFile {
		var fs []xarFile
		for _, p := range kids[dir] {
			f := byPath[p]
			f.Files = nest(p)
			fs = append(fs, f)
		}
		return fs
	}
	toc.TOC.Files = nest(".")
	x, err := xml.MarshalIndent(toc, "", " ")
	if err != nil {
		return nil, fmt.Errorf("xar: the table of contents: %w", err)
	}
	x = append([]byte(xml.Header), x...)
	ztoc, err := zlibBytes(x)
	if err != nil {
		return nil, fmt.Errorf("xar: compressing the table of contents: %w", err)
	}
	sum := sha1.Sum(ztoc)
	copy(heap, sum[:])
	out := binary.BigEndian.AppendUint32(nil, xarMagic)
	out = binary.BigEndian.AppendUint16(out, xarHeaderSize)
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint64(out, uint64(len(ztoc)))
	out = binary.BigEndian.AppendUint64(out, uint64(len(x)))
	out = binary.BigEndian.AppendUint32(out, xarSHA1)
	return append(append(out, ztoc...), heap...), nil
}

// validName reports whether name may name a file in a folder.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// errXar is wrapped by every error about a malformed xar archive.
var errXar = errors.New("malformed xar archive")

// readXar reads an archive back, checking the TOC's checksum and every
// file's archived and extracted checksums, within the limits above. It
// lists folders before what they hold.
func readXar(b []byte) ([]xarEntry, error) {
	if len(b) < xarHeaderSize || binary.BigEndian.Uint32(b) != xarMagic {
		return nil, fmt.Errorf("%w: no xar header", errXar)
	}
	if len(b) > maxXarSize {
		return nil, fmt.Errorf("%w: %d bytes, over %d", errXar, len(b), maxXarSize)
	}
	hsize := uint64(binary.BigEndian.Uint16(b[4:]))
	zlen, xlen := binary.BigEndian.Uint64(b[8:]), binary.BigEndian.Uint64(b[16:])
	if alg := binary.BigEndian.Uint32(b[24:]); alg != xarSHA1 {
		return nil, fmt.Errorf("%w: TOC checksum algorithm %d (this reads 1, SHA-1)", errXar, alg)
	}
	if hsize < xarHeaderSize || zlen > maxXarTOC || xlen > maxXarTOC || hsize+zlen > uint64(len(b)) {
		return nil, fmt.Errorf("%w: header of %d bytes or TOC of %d (%d) bytes out of bounds", errXar, hsize, zlen, xlen)
	}
	ztoc := b[hsize : hsize+zlen]
	heap := b[hsize+zlen:]
	x, err := inflate(ztoc, xlen)
	if err != nil {
		return nil, fmt.Errorf("%w: the table of contents: %w", errXar, err)
	}
	var toc xarTOC
	if err := xml.Unmarshal(x, &toc); err != nil {
		return nil, fmt.Errorf("%w: the table of contents: %w", errXar, err)
	}
	c := toc.TOC.Checksum
	sum := sha1.Sum(ztoc)
	if c.Style != "sha1" || c.Size != sha1.Size || c.Offset > uint64(len(heap)) || uint64(len(heap))-c.Offset < c.Size || !bytes.Equal(heap[c.Offset:c.Offset+c.Size], sum[:]) {
		return nil, fmt.Errorf("%w: the table of contents does not match its %q checksum", errXar, c.Style)
	}
	var out []xarEntry
	var walk func(dir string, fs []xarFile, depth int) error
	walk = func(dir string, fs []xarFile, depth int) error {
		if depth > maxXarDepth {
			return fmt.Errorf("%w: folders nested over %d deep", errXar, maxXarDepth)
		}
		for _, f := range fs {
			if len(out) == maxXarFiles {
				return fmt.Errorf("%w: over %d files", errXar, maxXarFiles)
			}
			if !validName(f.Name) {
				return fmt.Errorf("%w: a file named %q in %q", errXar, f.Name, dir)
			}
			e, err := xarRead(f, path.Join(dir, f.Name), heap)
			if err != nil {
				return err
			}
			if slices.ContainsFunc(out, func(o xarEntry) bool { return o.Path == e.Path }) {
				return fmt.Errorf("%w: %s twice", errXar, e.Path)
			}
			out = append(out, e)
			if err := walk(e.Path, f.Files, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(".", toc.TOC.Files, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// xarRead returns the entry of f at p, its data taken from heap and
// checked.
func xarRead(f xarFile, p string, heap []byte) (xarEntry, error) {
	mode, err := strconv.ParseUint(f.Mode, 8, 32)
	if err != nil {
		return xarEntry{}, fmt.Errorf("%w: %s: mode %q", errXar, p, f.Mode)
	}
	e := xarEntry{Path: p, Mode: uint32(mode), Dir: f.Type == "directory"}
	switch {
	case e.Dir && f.Data == nil:
		return e, nil
	case f.Type != "file" || f.Data == nil:
		return xarEntry{}, fmt.Errorf("%w: %s: a %q with data %t (this reads files with data and folders)", errXar, p, f.Type, f.Data != nil)
	case len(f.Files) > 0:
		return xarEntry{}, fmt.Errorf("%w: file %s holds files", errXar, p)
	}
	d := f.Data
	if d.Offset > uint64(len(heap)) || uint64(len(heap))-d.Offset < d.Length {
		return xarEntry{}, fmt.Errorf("%w: %s: %d bytes at %d, out of the heap", errXar, p, d.Length, d.Offset)
	}
	stored := heap[d.Offset : d.Offset+d.Length]
	if err := xarCheck(d.Archived, stored); err != nil {
		return xarEntry{}, fmt.Errorf("%w: %s: archived %w", errXar, p, err)
	}
	switch d.Encoding.Style {
	case xarRaw:
		e.Data = stored
	case xarZlib:
		e.Compress = true
		if e.Data, err = inflate(stored, d.Size); err != nil {
			return xarEntry{}, fmt.Errorf("%w: %s: %w", errXar, p, err)
		}
	default:
		return xarEntry{}, fmt.Errorf("%w: %s: encoding %q (this reads %s and %s)", errXar, p, d.Encoding.Style, xarRaw, xarZlib)
	}
	if uint64(len(e.Data)) != d.Size {
		return xarEntry{}, fmt.Errorf("%w: %s: %d bytes, the TOC says %d", errXar, p, len(e.Data), d.Size)
	}
	if err := xarCheck(d.Extracted, e.Data); err != nil {
		return xarEntry{}, fmt.Errorf("%w: %s: extracted %w", errXar, p, err)
	}
	return e, nil
}

// xarCheck checks data against a checksum of the TOC.
func xarCheck(h xarHash, data []byte) error {
	var d hash.Hash
	switch h.Style {
	case "sha1":
		d = sha1.New()
	case "sha256":
		d = sha256.New()
	default:
		return fmt.Errorf("checksum style %q (this reads sha1 and sha256)", h.Style)
	}
	d.Write(data)
	if got := hex.EncodeToString(d.Sum(nil)); got != strings.ToLower(strings.TrimSpace(h.Sum)) {
		return fmt.Errorf("checksum %s is %s, the TOC says %.80q", h.Style, got, h.Sum)
	}
	return nil
}

// inflate returns the zlib data b, which must decompress to size bytes.
func inflate(b []byte, size uint64) ([]byte, error) {
	if size > maxXarSize {
		return nil, fmt.Errorf("%d bytes, over %d", size, maxXarSize)
	}
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("reading the xar table of contents: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(size)+1))
	if err != nil {
		return nil, fmt.Errorf("reading the xar table of contents: %w", err)
	}
	if uint64(len(out)) != size {
		return nil, fmt.Errorf("%d bytes, want %d", len(out), size)
	}
	return out, nil
}
