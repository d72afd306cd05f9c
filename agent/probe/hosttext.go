package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// This file holds what the wifi, proxy, vpn and security probes share to
// read configuration files and tool output: bounded reads, bounded
// directory listings, and strings made safe for the wire.

// toolRunner runs a platform tool as runTool does; probes hold one so that
// tests feed them recorded output.
type toolRunner func(ctx context.Context, limit int, name string, args ...string) ([]byte, bool, error)

// errHealthTool is what a probe that needs a platform tool answers in a
// health snapshot, where no tool may run (these probes are not in
// HealthProbes, so only a caller that names them sees it).
var errHealthTool = errors.New("this probe runs a platform tool here, which health snapshots never do")

// readCapped reads at most limit bytes of the file at path and says
// whether there was more. On Linux it reads with bare system calls (see
// openProcFile).
func readCapped(path string, limit int) ([]byte, bool, error) {
	f, err := openProcFile(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > limit {
		return b[:limit], true, nil
	}
	return b, false, nil
}

// listNames returns the sorted names of the entries of dir that end in
// suffix ("" for all), at most max of them, and how many it left off.
func listNames(dir, suffix string, max int) ([]string, int, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("listing a folder: %w", err)
	}
	defer f.Close()
	// A directory this code reads holds tens of entries; more than a few
	// thousand is not worth reading to the end.
	all, err := f.Readdirnames(4096)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("listing %s: %w", dir, err)
	}
	var names []string
	for _, n := range all {
		if strings.HasSuffix(n, suffix) && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) > max {
		return names[:max], len(names) - max, nil
	}
	return names, 0, nil
}
