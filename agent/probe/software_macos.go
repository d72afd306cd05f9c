package probe

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/shirou/gopsutil/v3/common"

	"github.com/sondehq/sonde/agent/probe/plist"
	"github.com/sondehq/sonde/internal/limitfile"
)

// This file reads macOS' applications and package receipts: property
// lists, XML or binary, read with the bounded plist package.

// maxPlistFile bounds the bytes read of one Info.plist or receipt.
const maxPlistFile = 1 << 20

// readMacApps lists the application bundles in /Applications: name,
// version and bundle identifier from Contents/Info.plist, and the
// bundle's modification time, which an install or update sets. An
// application whose Info.plist cannot be read is listed by its folder's
// name.
func readMacApps(ctx context.Context, p *softwareProbe) ([]SoftwarePackage, int, bool, error) {
	dir := Path(ctx, common.HostRootEnvKey, "Applications")
	entries, err := listApps(dir, "applications")
	if err != nil {
		return nil, 0, false, err
	}
	var pkgs []SoftwarePackage
	more := 0
	for _, e := range entries {
		base, isApp := strings.CutSuffix(e.Name(), ".app")
		if !isApp || !e.IsDir() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, false, fmt.Errorf("listing applications: %w", err)
		}
		if len(pkgs) == maxSoftwareFound {
			more++
			continue
		}
		bundle := filepath.Join(dir, e.Name())
		pk := SoftwarePackage{Name: base, InstalledAt: mtimeOf(bundle)}
		if d, err := readPlist(filepath.Join(bundle, "Contents", "Info.plist")); err == nil {
			pk.Name = firstString(d, base, "CFBundleDisplayName", "CFBundleName")
			pk.Version = firstString(d, "", "CFBundleShortVersionString", "CFBundleVersion")
			pk.ID, _ = d.String("CFBundleIdentifier")
		}
		pkgs = append(pkgs, pk)
	}
	return pkgs, more, more > 0, nil
}

// readMacReceipts lists the installer packages recorded in
// /var/db/receipts/<identifier>.plist: identifier, version and install
// date.
func readMacReceipts(ctx context.Context, p *softwareProbe) ([]SoftwarePackage, int, bool, error) {
	dir := Path(ctx, common.HostVarEnvKey, "db/receipts")
	entries, err := listApps(dir, "package receipts")
	if err != nil {
		return nil, 0, false, err
	}
	var pkgs []SoftwarePackage
	more := 0
	for _, e := range entries {
		base, isPlist := strings.CutSuffix(e.Name(), ".plist")
		if !isPlist || e.IsDir() {
			continue // the receipts' .bom files
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, false, fmt.Errorf("listing package receipts: %w", err)
		}
		if len(pkgs) == maxSoftwareFound {
			more++
			continue
		}
		path := filepath.Join(dir, e.Name())
		pk := SoftwarePackage{Name: base}
		if d, err := readPlist(path); err == nil {
			pk.Name = firstString(d, base, "PackageIdentifier")
			pk.Version, _ = d.String("PackageVersion")
			if t, ok := d.Date("InstallDate"); ok {
				pk.InstalledAt = unixOf(t)
			}
		}
		if pk.InstalledAt == 0 {
			pk.InstalledAt = mtimeOf(path)
		}
		pkgs = append(pkgs, pk)
	}
	return pkgs, more, more > 0, nil
}

// readPlist reads a property list file whose top value is a dict.
func readPlist(path string) (plist.Dict, error) {
	b, err := limitfile.Read(path, maxPlistFile)
	if err != nil {
		return nil, err
	}
	d, err := plist.ParseDict(b)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return d, nil
}

// firstString returns the first non-empty string among d's keys, else def.
func firstString(d plist.Dict, def string, keys ...string) string {
	for _, k := range keys {
		if s, ok := d.String(k); ok && strings.TrimSpace(s) != "" {
			return s
		}
	}
	return def
}
