package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v3/common"
)

// This file reads the security posture of a Linux machine from /proc,
// /sys, /etc, /var and /run.

// linuxFirewall weighs the signals: the nftables ruleset, the legacy
// iptables tables, ufw's configuration and firewalld's pid file.
func (p *securityProbe) linuxFirewall(ctx context.Context) (*Firewall, error) {
	f := &Firewall{}
	var nftErr error
	f.NFTables, nftErr = p.nftables(ctx)
	for _, v := range []struct{ file, prefix string }{{"ip_tables_names", ""}, {"ip6_tables_names", "ip6:"}} {
		if b, _, err := readCapped(procNetPath(ctx, v.file), 4096); err == nil {
			for _, t := range strings.Fields(string(b)) {
				f.IPTablesLegacy = append(f.IPTablesLegacy, v.prefix+cleanText(t, 32))
			}
		}
	}
	if b, _, err := readCapped(Path(ctx, common.HostEtcEnvKey, "ufw", "ufw.conf"), 64<<10); err == nil {
		on := false
		for line := range bytes.Lines(b) {
			if v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("ENABLED=")); ok {
				on = strings.EqualFold(strings.Trim(string(v), `"'`), "yes")
			}
		}
		f.UFWEnabled = &on
	}
	f.FirewalldRunning = firewalldRunning(ctx)
	var active *bool
	switch {
	case f.NFTables != nil && f.NFTables.filtersInput():
		active, f.Why = pointerTo(true), "nftables filters incoming packets (an input filter chain with rules or a drop policy)"
	case f.FirewalldRunning != nil && *f.FirewalldRunning:
		active, f.Why = pointerTo(true), "firewalld is running"
	case f.NFTables == nil && f.UFWEnabled != nil && *f.UFWEnabled:
		active, f.Why = pointerTo(true), "ufw is enabled in its configuration (the ruleset could not be read to confirm it)"
	case slices.Contains(f.IPTablesLegacy, "filter") || slices.Contains(f.IPTablesLegacy, "ip6:filter"):
		f.Why = "legacy iptables filter tables are loaded, whose rules the probe does not read"
	case f.NFTables != nil && f.UFWEnabled != nil && *f.UFWEnabled:
		active, f.Why = pointerTo(false), "ufw is enabled in its configuration, but no input filter rules are loaded"
	case f.NFTables != nil:
		active, f.Why = pointerTo(false), "no input filter in nftables, no legacy iptables tables, ufw not enabled, firewalld not running"
	default:
		f.Why = "the nftables ruleset could not be read, and neither ufw nor firewalld is on"
	}
	f.Active = active
	return f, nftErr
}

// firewalldRunning says whether firewalld's pid file names a live process
// called firewalld; nil when there is no pid file.
func firewalldRunning(ctx context.Context) *bool {
	pid, err := readTrimmed(Path(ctx, common.HostRunEnvKey, "firewalld.pid"))
	if err != nil {
		return nil
	}
	if _, err := strconv.Atoi(pid); err != nil {
		return pointerTo(false)
	}
	comm, err := readTrimmed(Path(ctx, common.HostProcEnvKey, pid, "comm"))
	return pointerTo(err == nil && comm == "firewalld")
}

// linuxDiskEncryption follows the device mounted on / down through device
// mapper and RAID (each device's slaves/) and calls it encrypted when
// every path down reaches a dm-crypt device (dm/uuid "CRYPT-...").
func linuxDiskEncryption(ctx context.Context, mounts *mountWatch) (*DiskEncryption, error) {
	d := &DiskEncryption{Volume: "/"}
	b, _, err := mounts.read(Path(ctx, common.HostProcEnvKey, "self", "mountinfo"))
	if err != nil {
		d.Why = "the mount table could not be read"
		return d, fmt.Errorf("reading the mount table: %w", err)
	}
	devno, source, fstype, ok := rootMount(b)
	if !ok {
		d.Why = "nothing is mounted on /"
		return d, nil
	}
	d.Device = cleanText(source, 128)
	sysBlock := Path(ctx, common.HostSysEnvKey, "dev", "block", devno)
	if strings.HasPrefix(devno, "0:") {
		// btrfs and the like have anonymous device numbers: go by name.
		sysBlock = blockByName(ctx, source)
		if sysBlock == "" {
			d.Why = fmt.Sprintf("/ is %s on %s, not a block device", cleanText(fstype, 16), d.Device)
			return d, nil
		}
	}
	target, err := filepath.EvalSymlinks(sysBlock)
	if err != nil {
		d.Why = "its block device is not in /sys"
		return d, nil
	}
	enc, scheme, ok := cryptChain(target, 0, &d.Chain)
	if !ok {
		d.Why = "a device under / could not be followed through /sys"
		return d, nil
	}
	d.Encrypted, d.Scheme = &enc, scheme
	return d, nil
}

// rootMount finds the last mount on / in mountinfo: its device number,
// source and file system type.
func rootMount(b []byte) (devno, source, fstype string, ok bool) {
	for line := range bytes.Lines(b) {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, found := bytes.Cut(line, []byte(" - "))
		f, g := bytes.Fields(pre), bytes.Fields(post)
		if !found || len(f) < 5 || len(g) < 2 || string(f[4]) != "/" {
			continue
		}
		devno, fstype, source, ok = string(f[2]), string(g[0]), string(g[1]), true
	}
	return devno, source, fstype, ok
}

// blockByName finds the /sys/class/block entry of a device path:
// /dev/mapper/NAME by its dm/name, /dev/NAME directly.
func blockByName(ctx context.Context, source string) string {
	class := Path(ctx, common.HostSysEnvKey, "class", "block")
	if name, ok := strings.CutPrefix(source, "/dev/mapper/"); ok {
		names, _, _ := listNames(class, "", 4096)
		for _, n := range names {
			if dm, err := readTrimmed(class + "/" + n + "/dm/name"); err == nil && strings.HasPrefix(n, "dm-") && dm == name {
				return class + "/" + n
			}
		}
		return ""
	}
	if name, ok := strings.CutPrefix(source, "/dev/"); ok && !strings.Contains(name, "/") {
		if _, err := os.Stat(class + "/" + name); err == nil {
			return class + "/" + name
		}
	}
	return ""
}

// maxChain bounds the devices cryptChain walks.
const maxChain = 16

// cryptChain says whether the block device in dir is encrypted: a
// dm-crypt device, or one whose slaves all are. It records the devices it
// walks in chain; ok is false when it could not follow one.
func cryptChain(dir string, depth int, chain *[]string) (enc bool, scheme string, ok bool) {
	name := cleanText(filepath.Base(dir), 64)
	if depth > 8 || len(*chain) >= maxChain {
		return false, "", false
	}
	uuid, err := readTrimmed(dir + "/dm/uuid")
	if err == nil {
		kind, rest, _ := strings.Cut(uuid, "-")
		if kind == "CRYPT" {
			scheme, _, _ := strings.Cut(rest, "-")
			if scheme == "PLAIN" {
				scheme = "plain"
			} else if scheme == "BITLK" {
				scheme = "BitLocker"
			}
			*chain = append(*chain, fmt.Sprintf("%s (dm-crypt %s)", name, cleanText(scheme, 16)))
			return true, cleanText(scheme, 16), true
		}
		*chain = append(*chain, fmt.Sprintf("%s (%s)", name, cleanText(kind, 16)))
	} else if _, err := os.Stat(dir + "/md"); err == nil {
		*chain = append(*chain, name+" (RAID)")
	} else {
		*chain = append(*chain, name)
	}
	slaves, _, err := listNames(dir+"/slaves", "", maxChain)
	if err != nil || len(slaves) == 0 {
		return false, "", true // a disk or partition
	}
	all := true
	for _, s := range slaves {
		target, err := filepath.EvalSymlinks(dir + "/slaves/" + s)
		if err != nil {
			return false, "", false
		}
		e, sch, ok := cryptChain(target, depth+1, chain)
		if !ok {
			return false, "", false
		}
		all = all && e
		if sch != "" {
			scheme = sch
		}
	}
	if !all {
		return false, "", true
	}
	return true, scheme, true
}

// EFI variables of the global namespace.
const efiGlobal = "8be4df61-93ca-11d2-aa0d-00e098032b8c"

// linuxSecureBoot reads the firmware's SecureBoot and SetupMode variables
// from efivarfs (or the old sysfs efivars). No /sys/firmware/efi means the
// machine booted through a legacy BIOS (or a compatibility module).
func linuxSecureBoot(ctx context.Context) (*SecureBoot, error) {
	efi := Path(ctx, common.HostSysEnvKey, "firmware", "efi")
	if _, err := os.Stat(efi); errors.Is(err, fs.ErrNotExist) {
		return &SecureBoot{Boot: "legacy-bios", Enabled: pointerTo(false), Why: "no /sys/firmware/efi: booted through a legacy BIOS"}, nil
	}
	s := &SecureBoot{Boot: "uefi"}
	on, err := readEFIVar(efi, "SecureBoot")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if names, _, _ := listNames(efi+"/efivars", "", 1); len(names) == 0 {
			s.Why = "efivarfs is not mounted: the firmware's variables cannot be read"
			return s, nil
		}
		s.Enabled, s.Why = pointerTo(false), "the firmware has no SecureBoot variable: it does not support Secure Boot"
		return s, nil
	case err != nil:
		s.Why = "the SecureBoot variable could not be read"
		return s, fmt.Errorf("reading the SecureBoot variable: %w", err)
	}
	s.Enabled = &on
	if setup, err := readEFIVar(efi, "SetupMode"); err == nil {
		s.SetupMode = &setup
	}
	return s, nil
}

// readEFIVar reads a one-byte boolean EFI variable of the global
// namespace: from efivarfs (4 bytes of attributes, then the value), else
// from the old sysfs interface (the value alone, in data).
func readEFIVar(efi, name string) (bool, error) {
	b, _, err := readCapped(efi+"/efivars/"+name+"-"+efiGlobal, 64)
	if errors.Is(err, fs.ErrNotExist) {
		if b, _, err = readCapped(efi+"/vars/"+name+"-"+efiGlobal+"/data", 64); err == nil {
			return parseEFIBool(append([]byte{0, 0, 0, 0}, b...))
		}
	}
	if err != nil {
		return false, err
	}
	return parseEFIBool(b)
}

// parseEFIBool parses an efivarfs file of a one-byte boolean: 4 bytes of
// attributes, then 0 or 1.
func parseEFIBool(b []byte) (bool, error) {
	if len(b) != 5 {
		return false, fmt.Errorf("EFI variable of %d bytes, want 5", len(b))
	}
	switch b[4] {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("EFI boolean of value %d", b[4])
}

// linuxAutoUpdates reads APT's periodic settings and whether
// unattended-upgrades is installed, or dnf-automatic's timers and
// settings, through the trace functions of filememo.go, so that the
// probe keeps the result while none of those files changes.
func linuxAutoUpdates(ctx context.Context) (*AutoUpdates, error) {
	etc := func(parts ...string) string { return Path(ctx, common.HostEtcEnvKey, parts...) }
	wants := etc("systemd", "system", "timers.target.wants")
	timer := func(name string) bool { return traceExists(ctx, wants+"/"+name, true) }
	wantsFound := traceExists(ctx, wants, false)
	if traceExists(ctx, etc("apt"), false) {
		u := &AutoUpdates{Mechanism: "unattended-upgrades", Settings: map[string]string{}}
		entries, err := aptConfig(ctx)
		for _, e := range entries {
			switch e.Key {
			case "APT::Periodic::Unattended-Upgrade", "APT::Periodic::Update-Package-Lists":
				u.Settings[e.Key] = cleanText(e.Value, 32)
			}
		}
		installed := traceExists(ctx, Path(ctx, common.HostVarEnvKey, "lib", "dpkg", "info", "unattended-upgrades.list"), false)
		days, _ := strconv.Atoi(u.Settings["APT::Periodic::Unattended-Upgrade"])
		switch {
		case !installed:
			u.Enabled, u.Why = pointerTo(false), "unattended-upgrades is not installed"
		case days <= 0:
			u.Enabled, u.Why = pointerTo(false), "APT::Periodic::Unattended-Upgrade is not set to a number of days"
		case wantsFound && !timer("apt-daily-upgrade.timer"):
			u.Enabled, u.Why = pointerTo(false), "apt-daily-upgrade.timer, which runs it, is not enabled"
		default:
			u.Enabled = pointerTo(true)
		}
		return u, err
	}
	if traceExists(ctx, etc("dnf"), false) {
		u := &AutoUpdates{Mechanism: "dnf-automatic", Settings: map[string]string{}}
		apply := ""
		if b, _, err := traceRead(ctx, etc("dnf", "automatic.conf"), 64<<10); err == nil {
			for line := range bytes.Lines(b) {
				k, v, ok := strings.Cut(string(line), "=")
				if ok && strings.TrimSpace(k) == "apply_updates" {
					apply = strings.TrimSpace(v)
					u.Settings["apply_updates"] = cleanText(apply, 16)
				}
			}
		}
		for _, t := range []string{"dnf-automatic-install.timer", "dnf-automatic.timer", "dnf5-automatic.timer"} {
			if timer(t) {
				u.Settings[t] = "enabled"
			}
		}
		switch {
		case timer("dnf-automatic-install.timer"):
			u.Enabled = pointerTo(true)
		case (timer("dnf-automatic.timer") || timer("dnf5-automatic.timer")) && (apply == "yes" || apply == "true" || apply == "1"):
			u.Enabled = pointerTo(true)
		case timer("dnf-automatic.timer") || timer("dnf5-automatic.timer"):
			u.Enabled, u.Why = pointerTo(false), "dnf-automatic runs but apply_updates is not yes: it only downloads or notifies"
		default:
			u.Enabled, u.Why = pointerTo(false), "no dnf-automatic timer is enabled"
		}
		return u, nil
	}
	return &AutoUpdates{Why: "neither APT nor DNF is configured here"}, nil
}

// aptConfig reads APT's configuration as APT does: the files of
// apt.conf.d in order, then apt.conf, later settings winning.
func aptConfig(ctx context.Context) ([]aptEntry, error) {
	var out []aptEntry
	var errs []error
	dir := Path(ctx, common.HostEtcEnvKey, "apt", "apt.conf.d")
	names, _, err := traceList(ctx, dir, "", maxProxyDirFiles)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	var files []string
	for _, n := range names {
		if aptPart(n) {
			files = append(files, dir+"/"+n)
		}
	}
	files = append(files, Path(ctx, common.HostEtcEnvKey, "apt", "apt.conf"))
	for _, f := range files {
		b, _, err := traceRead(ctx, f, maxProxyFile)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		e, err := parseAptConf(b)
		out = append(out, e...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", displayPath(ctx, f), err))
		}
	}
	return out, errors.Join(errs...)
}
