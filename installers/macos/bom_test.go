package macos

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var mkbomDir = flag.String("mkbom-tree", "", "write the tree of TestBomLikeMkbom into this `dir`, to make testdata/mkbom.bom with bomutils: mkbom -u 0 -g 0 DIR testdata/mkbom.bom")

// bomTestTree is a tree of 305 paths: two leaves of the paths tree.
func bomTestTree() []file {
	fs := []file{{Path: ".", Mode: modeDir | 0o755}, {Path: "./b", Mode: modeDir | 0o700}, {Path: "./b/sub", Mode: modeDir | 0o755}}
	for i := range 300 {
		p := fmt.Sprintf("./a%d/f%03d", i%2, i)
		if i < 2 {
			fs = append(fs, file{Path: fmt.Sprintf("./a%d", i), Mode: modeDir | 0o755})
		}
		fs = append(fs, file{Path: p, Mode: modeFile | 0o644 | uint32(i%2)*0o111, Data: bytes.Repeat([]byte{byte(i)}, i)})
	}
	return sorted(fs, epoch.Unix())
}

// TestBomLikeMkbom compares writeBom with what bomutils' mkbom wrote for
// the same tree, byte for byte (testdata/mkbom.bom; see -mkbom-tree).
func TestBomLikeMkbom(t *testing.T) {
	tree := bomTestTree()
	if *mkbomDir != "" {
		for _, f := range tree {
			p := filepath.Join(*mkbomDir, f.Path)
			if f.isDir() {
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for i := len(tree) - 1; i >= 0; i-- { // children first: their times would move the folder's
			p := filepath.Join(*mkbomDir, tree[i].Path)
			if err := os.Chmod(p, os.FileMode(tree[i].Mode&0o777)); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, epoch, epoch); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := writeBom(tree)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/mkbom.bom")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("writeBom wrote %d bytes unlike mkbom's %d", len(got), len(want))
	}
	entries, err := readBom(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(tree) {
		t.Fatalf("readBom read %d paths of mkbom's BOM, want %d", len(entries), len(tree))
	}
	if err := bomMatches(entries, tree); err != nil {
		t.Error(err)
	}
	if e := entries[4]; e.Path != "./a0/f000" || e.Mode != 0o100644 || e.Size != 0 {
		t.Errorf("entry 4 (the first of ./a0) is %+v", e)
	}
}

func TestCksum(t *testing.T) {
	// As POSIX cksum prints them.
	for in, want := range map[string]uint32{"": 4294967295, "123456789": 930766865, "a": 1220704766} {
		if got := cksum([]byte(in)); got != want {
			t.Errorf("cksum(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestWriteBomErrors(t *testing.T) {
	dir := file{Path: ".", Mode: modeDir | 0o755}
	for name, fs := range map[string][]file{
		"no root":          {{Path: "./a", Mode: modeFile | 0o644}},
		"a missing folder": {dir, {Path: "./a/b", Mode: modeFile | 0o644}},
		"a file as folder": {dir, {Path: "./a", Mode: modeFile | 0o644}, {Path: "./a/b", Mode: modeFile | 0o644}},
		"a path twice":     {dir, {Path: "./a", Mode: modeFile | 0o644}, {Path: "./a", Mode: modeFile | 0o644}},
	} {
		if _, err := writeBom(fs); err == nil {
			t.Errorf("%s: writeBom took it", name)
		}
	}
}

func TestReadBomErrors(t *testing.T) {
	good, err := writeBom(bomTestTree())
	if err != nil {
		t.Fatal(err)
	}
	loop := bytes.Clone(good)
	// Point the first leaf's forward link at itself: the Paths tree's root
	// is a branch whose first index is the first leaf.
	r := &bomReader{b: loop}
	indexOff := binary.BigEndian.Uint32(loop[16:])
	r.table = loop[indexOff+4:]
	tree, _ := r.block(bomVarBlock(t, loop, "Paths"), bomTreeSize)
	branch, _ := r.block(binary.BigEndian.Uint32(tree[8:]), 12)
	first := binary.BigEndian.Uint32(branch[12:])
	leaf, _ := r.block(first, 12)
	binary.BigEndian.PutUint32(leaf[4:], first)

	for name, b := range map[string][]byte{
		"empty":          nil,
		"another magic":  append([]byte("BOMStorf"), good[8:]...),
		"cut short":      good[:len(good)/2],
		"a looping leaf": loop,
	} {
		_, err := readBom(b)
		t.Logf("%s: %v", name, err)
		if err == nil {
			t.Errorf("%s: readBom took it", name)
		}
	}
}

// bomVarBlock returns the block of the variable name of a BOM.
func bomVarBlock(t *testing.T, b []byte, name string) uint32 {
	t.Helper()
	vars := b[bomHeaderSize:]
	at := 4
	for range binary.BigEndian.Uint32(vars) {
		n := int(vars[at+4])
		if string(vars[at+5:at+5+n]) == name {
			return binary.BigEndian.Uint32(vars[at:])
		}
		at += 5 + n
	}
	t.Fatalf("no variable %s", name)
	return 0
}

func FuzzReadBom(f *testing.F) {
	// The package's BOM, not bomTestTree's: the fuzzer minimizes large
	// inputs slowly.
	payload, err := payloadFiles(fakeAgent, epoch.Unix())
	if err != nil {
		f.Fatal(err)
	}
	small, err := writeBom(payload)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := readBom(b)
		if err != nil {
			return
		}
		if len(entries) > maxBomPaths {
			t.Errorf("%d paths, over %d", len(entries), maxBomPaths)
		}
		for _, e := range entries {
			if len(e.Path) > maxPath {
				t.Errorf("a path of %d bytes", len(e.Path))
			}
		}
	})
}
