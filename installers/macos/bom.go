package macos

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A BOM ("bill of materials", BOMStore) lists a payload's paths with their
// modes, owners, sizes and checksums; installer keeps it as the receipt
// that pkgutil --files reads. The layout follows bomutils' mkbom, which
// Apple's tools read: a 512-byte header, the named variables, the blocks,
// then the block table and an empty free list. All numbers are big-endian.
//
// The "Paths" variable is a tree whose leaves hold up to 256 entries,
// each two blocks: a pathInfo1 {id, block of pathInfo2} and a file
// {parent id, NUL-terminated name}. Ids are given breadth-first with each
// folder's children in name order ("." is 1, its parent 0), which is the
// order of the keys (parent, name) the tree is sorted by.

const (
	bomMagic      = "BOMStore"
	bomHeaderSize = 512
	bomLeafSize   = 256 // entries in one leaf of the paths tree
	bomPathInfo2  = 31  // bytes of a pathInfo2 without a link name
	bomTreeSize   = 21  // bytes of a "tree" record
	maxBomPaths   = 1 << 16
	maxBomSize    = 64 << 20
)

// The pathInfo2 types.
const (
	bomFile = 1
	bomDir  = 2
)

// bomEntry is one path of a BOM as read back.
type bomEntry struct {
	Path     string // "." or "./usr/local/bin/sonde-agent"
	Type     uint8  // bomFile, bomDir, 3 link, 4 device
	Mode     uint16 // type and permission bits
	UID, GID uint32
	MTime    uint32
	Size     uint32
	Checksum uint32 // cksum's CRC of the contents (files)
}

// bomStore collects the blocks of a BOM; block 0 is the null block.
type bomStore struct {
	blocks [][]byte
	vars   []bomVar
}

type bomVar struct {
	name  string
	block uint32
}

func (s *bomStore) add(b []byte) uint32 {
	s.blocks = append(s.blocks, b)
	return uint32(len(s.blocks) - 1)
}

func be32(v ...uint32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b
}

// bomLeaves gathers the entries of the paths tree, {pathInfo1 block,
// file block}, into leaves of up to bomLeafSize, linked both ways, under
// one branch when there are several. Like mkbom, it stores a full leaf
// when the next entry comes.
type bomLeaves struct {
	s      *bomStore
	cur    [][2]uint32
	last   uint32      // the leaf stored last
	branch [][2]uint32 // {leaf block, its last file block}
}

func (l *bomLeaves) makeRoom() {
	if len(l.cur) == bomLeafSize {
		l.store()
	}
}

func (l *bomLeaves) store() {
	leaf := l.s.add(bomNode(true, 0, l.last, l.cur))
	if l.last != 0 {
		binary.BigEndian.PutUint32(l.s.blocks[l.last][4:], leaf)
	}
	l.last = leaf
	l.branch = append(l.branch, [2]uint32{leaf, l.cur[len(l.cur)-1][1]})
	l.cur = nil
}

// root stores the last leaf and returns the tree's root node.
func (l *bomLeaves) root() uint32 {
	l.store()
	if len(l.branch) == 1 {
		return l.last
	}
	return l.s.add(bomNode(false, 0, 0, l.branch))
}

// bomTree returns a "tree" record whose root node is block child.
func bomTree(child, blockSize, paths uint32) []byte {
	return append(append([]byte("tree"), be32(1, child, blockSize, paths)...), 0)
}

// bomNode returns a node of a paths tree: a leaf, or a branch whose
// indices name its children.
func bomNode(leaf bool, forward, backward uint32, indices [][2]uint32) []byte {
	isLeaf := uint16(0)
	if leaf {
		isLeaf = 1
	}
	b := binary.BigEndian.AppendUint16(nil, isLeaf)
	b = binary.BigEndian.AppendUint16(b, uint16(len(indices)))
	b = append(b, be32(forward, backward)...)
	for _, ix := range indices {
		b = append(b, be32(ix[0], ix[1])...)
	}
	return b
}

// writeBom returns the BOM of files, which must hold "." and every
// parent folder of every path.
func writeBom(files []file) ([]byte, error) {
	byPath := map[string]file{}
	children := map[string][]string{}
	for _, f := range files {
		if _, dup := byPath[f.Path]; dup {
			return nil, fmt.Errorf("bom: %s twice", f.Path)
		}
		byPath[f.Path] = f
		if f.Path != "." {
			dir, _ := splitPath(f.Path)
			children[dir] = append(children[dir], f.Path)
		}
	}
	if _, ok := byPath["."]; !ok {
		return nil, errors.New("bom: no root folder \".\"")
	}
	for dir := range children {
		if f, ok := byPath[dir]; !ok || !f.isDir() {
			return nil, fmt.Errorf("bom: %s is listed but its folder %s is not", children[dir][0], dir)
		}
	}
	if len(files) > maxBomPaths {
		return nil, fmt.Errorf("bom: %d paths, over %d", len(files), maxBomPaths)
	}

	// Blocks go in the order mkbom adds them, so that its output and
	// this are the same bytes.
	s := &bomStore{blocks: [][]byte{nil}}
	n := uint32(len(files))
	s.vars = append(s.vars, bomVar{"BomInfo", s.add(be32(1, n+1, 1, 0, 0, 0, 0))})
	type item struct {
		parent uint32
		path   string
	}
	leaves := &bomLeaves{s: s}
	queue := []item{{0, "."}}
	for id := uint32(1); len(queue) > 0; id++ {
		it := queue[0]
		queue = queue[1:]
		f := byPath[it.path]
		typ, size, sum := uint8(bomDir), uint32(0), uint32(0)
		if !f.isDir() {
			if uint64(len(f.Data)) > 1<<32-1 {
				return nil, fmt.Errorf("bom: %s is over 4 GiB", f.Path)
			}
			typ, size, sum = bomFile, uint32(len(f.Data)), cksum(f.Data)
		}
		leaves.makeRoom()
		// type, 1, architecture 3 (as mkbom writes), mode, uid, gid,
		// mtime, size, 1, checksum, link name length 0.
		info2 := []byte{typ, 1, 0, 3, byte(f.Mode >> 8), byte(f.Mode)}
		info2 = append(info2, be32(f.UID, f.GID, uint32(f.MTime), size)...)
		info2 = append(append(info2, 1), be32(sum, 0)...)
		info1 := s.add(be32(id, s.add(info2)))
		_, name := splitPath(it.path)
		leaves.cur = append(leaves.cur, [2]uint32{info1, s.add(append(append(be32(it.parent), name...), 0))})
		kids := slices.Clone(children[it.path])
		slices.Sort(kids)
		for _, k := range kids {
			queue = append(queue, item{id, k})
		}
	}
	s.vars = append(s.vars, bomVar{"Paths", s.add(bomTree(leaves.root(), 4096, n))})
	s.vars = append(s.vars, bomVar{"HLIndex", s.add(bomTree(s.add(bomNode(true, 0, 0, nil)), 4096, 0))})
	vtree := s.add(bomTree(s.add(bomNode(true, 0, 0, nil)), 128, 0))
	s.vars = append(s.vars, bomVar{"VIndex", s.add(append(be32(1, vtree, 0), 0))})
	s.vars = append(s.vars, bomVar{"Size64", s.add(bomTree(s.add(bomNode(true, 0, 0, nil)), 4096, 0))})
	return s.bytes(), nil
}

// splitPath splits a "./"-relative path into its folder and name, without
// cleaning it as path.Split would: "./usr/local" is "./usr" and "local".
func splitPath(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// bytes lays the store out as mkbom does.
func (s *bomStore) bytes() []byte {
	vars := be32(uint32(len(s.vars)))
	for _, v := range s.vars {
		vars = append(append(append(vars, be32(v.block)...), byte(len(v.name))), v.name...)
	}
	var data []byte
	table := be32(uint32(len(s.blocks)))
	for i, b := range s.blocks {
		addr := uint32(0)
		if i > 0 {
			addr = uint32(bomHeaderSize + len(vars) + len(data))
		}
		table = append(table, be32(addr, uint32(len(b)))...)
		data = append(data, b...)
	}
	free := be32(0, 0, 0, 0, 0) // no free blocks, and two null pointers
	out := make([]byte, bomHeaderSize, bomHeaderSize+len(vars)+len(data)+len(table)+len(free))
	copy(out, bomMagic)
	indexOffset := bomHeaderSize + len(vars) + len(data)
	copy(out[8:], be32(1, uint32(len(s.blocks)-1), uint32(indexOffset), uint32(len(table)+len(free)), bomHeaderSize, uint32(len(vars))))
	out = append(append(append(append(out, vars...), data...), table...), free...)
	return out
}

// cksumTable is the CRC-32 table of polynomial 0x04C11DB7, most
// significant bit first, as POSIX cksum computes it.
var cksumTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&(1<<31) != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// cksum returns POSIX cksum's CRC of b, the checksum a BOM keeps: the
// CRC of the bytes, then of their length, inverted.
func cksum(b []byte) uint32 {
	var c uint32
	for _, x := range b {
		c = c<<8 ^ cksumTable[byte(c>>24)^x]
	}
	for n := len(b); n > 0; n >>= 8 {
		c = c<<8 ^ cksumTable[byte(c>>24)^byte(n)]
	}
	return ^c
}

// errBom is wrapped by every error about a malformed BOM.
var errBom = errors.New("malformed BOM")

// bomReader looks blocks up in a BOM being read.
type bomReader struct {
	b     []byte
	table []byte // the block pointers
}

// block returns block i, checked to lie within the file and to hold at
// least min bytes.
func (r *bomReader) block(i uint32, min int) ([]byte, error) {
	if i == 0 || uint64(i) >= uint64(len(r.table)/8) {
		return nil, fmt.Errorf("%w: block %d of %d", errBom, i, len(r.table)/8)
	}
	addr, n := binary.BigEndian.Uint32(r.table[8*i:]), binary.BigEndian.Uint32(r.table[8*i+4:])
	if uint64(addr)+uint64(n) > uint64(len(r.b)) || int(n) < min {
		return nil, fmt.Errorf("%w: block %d (%d bytes at %d) is out of the file or short", errBom, i, n, addr)
	}
	return r.b[addr : addr+n], nil
}

// readBom reads the paths of a BOM back, in the order of its tree.
func readBom(b []byte) ([]bomEntry, error) {
	if len(b) < 32 || string(b[:8]) != bomMagic {
		return nil, fmt.Errorf("%w: no %s header", errBom, bomMagic)
	}
	if len(b) > maxBomSize {
		return nil, fmt.Errorf("%w: %d bytes, over %d", errBom, len(b), maxBomSize)
	}
	h := func(i int) uint64 { return uint64(binary.BigEndian.Uint32(b[8+4*i:])) }
	if h(0) != 1 {
		return nil, fmt.Errorf("%w: version %d", errBom, h(0))
	}
	indexOff, indexLen, varsOff, varsLen := h(2), h(3), h(4), h(5)
	if indexOff+indexLen > uint64(len(b)) || varsOff+varsLen > uint64(len(b)) || indexLen < 4 || varsLen < 4 {
		return nil, fmt.Errorf("%w: index or variables out of the file", errBom)
	}
	index := b[indexOff : indexOff+indexLen]
	count := uint64(binary.BigEndian.Uint32(index))
	if 4+8*count > indexLen {
		return nil, fmt.Errorf("%w: %d blocks do not fit the index", errBom, count)
	}
	r := &bomReader{b: b, table: index[4 : 4+8*count]}

	vars := b[varsOff : varsOff+varsLen]
	paths := uint32(0)
	at := 4
	for range binary.BigEndian.Uint32(vars) {
		if at+5 > len(vars) || at+5+int(vars[at+4]) > len(vars) {
			return nil, fmt.Errorf("%w: variables cut short", errBom)
		}
		if string(vars[at+5:at+5+int(vars[at+4])]) == "Paths" {
			paths = binary.BigEndian.Uint32(vars[at:])
		}
		at += 5 + int(vars[at+4])
	}
	tree, err := r.block(paths, bomTreeSize)
	if err != nil {
		return nil, fmt.Errorf("the Paths tree: %w", err)
	}
	if string(tree[:4]) != "tree" {
		return nil, fmt.Errorf("%w: the Paths variable is no tree", errBom)
	}
	node, err := r.block(binary.BigEndian.Uint32(tree[8:]), 12)
	if err != nil {
		return nil, fmt.Errorf("the Paths tree's root: %w", err)
	}
	for depth := 0; binary.BigEndian.Uint16(node) == 0; depth++ {
		if depth == 8 || binary.BigEndian.Uint16(node[2:]) == 0 || len(node) < 20 {
			return nil, fmt.Errorf("%w: the Paths tree has no first leaf", errBom)
		}
		if node, err = r.block(binary.BigEndian.Uint32(node[12:]), 12); err != nil {
			return nil, fmt.Errorf("the Paths tree: %w", err)
		}
	}
	return r.leaves(node)
}

// leaves reads the entries of leaf node and of the leaves it links to.
func (r *bomReader) leaves(node []byte) ([]bomEntry, error) {
	var out []bomEntry
	byID := map[uint32]string{}
	seen := map[uint32]bool{}
	for {
		n := int(binary.BigEndian.Uint16(node[2:]))
		if len(node) < 12+8*n {
			return nil, fmt.Errorf("%w: a leaf of %d entries is cut short", errBom, n)
		}
		for i := range n {
			e, id, err := r.entry(node[12+8*i:], byID)
			if err != nil {
				return nil, err
			}
			if _, dup := byID[id]; dup || len(out) == maxBomPaths {
				return nil, fmt.Errorf("%w: id %d twice, or over %d paths", errBom, id, maxBomPaths)
			}
			byID[id] = e.Path
			out = append(out, e)
		}
		next := binary.BigEndian.Uint32(node[4:])
		if next == 0 {
			return out, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("%w: the leaves loop at block %d", errBom, next)
		}
		seen[next] = true
		var err error
		if node, err = r.block(next, 12); err != nil {
			return nil, fmt.Errorf("the next leaf: %w", err)
		}
	}
}

// entry reads the entry at ix, {pathInfo1 block, file block}; its parent
// must come before it.
func (r *bomReader) entry(ix []byte, byID map[uint32]string) (bomEntry, uint32, error) {
	info1, err := r.block(binary.BigEndian.Uint32(ix), 8)
	if err != nil {
		return bomEntry{}, 0, fmt.Errorf("a path's info: %w", err)
	}
	info2, err := r.block(binary.BigEndian.Uint32(info1[4:]), bomPathInfo2)
	if err != nil {
		return bomEntry{}, 0, fmt.Errorf("a path's attributes: %w", err)
	}
	f, err := r.block(binary.BigEndian.Uint32(ix[4:]), 6)
	if err != nil {
		return bomEntry{}, 0, fmt.Errorf("a path's name: %w", err)
	}
	name := f[4:]
	end := slices.Index(name, 0)
	if end < 1 {
		return bomEntry{}, 0, fmt.Errorf("%w: a name is empty or not NUL-terminated", errBom)
	}
	p := string(name[:end])
	if parent := binary.BigEndian.Uint32(f); parent != 0 {
		dir, ok := byID[parent]
		if !ok {
			return bomEntry{}, 0, fmt.Errorf("%w: the parent %d of %q comes after it", errBom, parent, p)
		}
		p = dir + "/" + p
	}
	if len(p) > maxPath {
		return bomEntry{}, 0, fmt.Errorf("%w: a path of %d bytes", errBom, len(p))
	}
	u := func(at int) uint32 { return binary.BigEndian.Uint32(info2[at:]) }
	return bomEntry{
		Path: p, Type: info2[0], Mode: binary.BigEndian.Uint16(info2[4:]),
		UID: u(6), GID: u(10), MTime: u(14), Size: u(18), Checksum: u(23),
	}, binary.BigEndian.Uint32(info1), nil
}
