package probe

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/shirou/gopsutil/v3/common"
	"github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/mem"

	"github.com/sondehq/sonde/protocol"
)

// ReadFacts reads the machine's static facts, once, when the agent starts.
// It never fails: a fact that cannot be read is left empty. It reads files
// only; gopsutil's host.Info is avoided because it forks lsb_release.
func ReadFacts(ctx context.Context) protocol.Facts {
	f := protocol.Facts{
		OS:   runtime.GOOS,
		Arch: readKernelArch(ctx),
	}
	f.Hostname, _ = readHostname(ctx)
	if rel, err := readOSRelease(ctx); err == nil {
		f.Platform, f.PlatformFamily, f.PlatformVersion = rel.platform()
	}
	f.KernelVersion, _ = readKernelVersion(ctx)
	f.Virtualization = detectVirtualization(ctx).name()
	f.HostID = readHostID(ctx)
	if c, err := readCPUStatic(ctx); err == nil {
		f.CPUModel, f.CPUs = c.Model, c.LogicalCores
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		f.MemoryBytes = vm.Total
	}
	f.BootTime, _ = readBootTime(ctx)
	return f
}

// osRelease holds the fields of /etc/os-release that Sonde reports.
type osRelease struct {
	ID, IDLike, PrettyName, VersionID string
}

// readOSRelease parses /etc/os-release, else /usr/lib/os-release.
func readOSRelease(ctx context.Context) (osRelease, error) {
	var r osRelease
	parse := func(b []byte) error {
		for line := range bytes.Lines(b) {
			k, v, ok := bytes.Cut(bytes.TrimSpace(line), []byte{'='})
			if !ok {
				continue
			}
			switch string(k) {
			case "ID":
				r.ID = unquoteOSRelease(v)
			case "ID_LIKE":
				r.IDLike = unquoteOSRelease(v)
			case "PRETTY_NAME":
				r.PrettyName = unquoteOSRelease(v)
			case "VERSION_ID":
				r.VersionID = unquoteOSRelease(v)
			}
		}
		return nil
	}
	err := withProcFile(Path(ctx, common.HostEtcEnvKey, "os-release"), parse)
	if err != nil && withProcFile(Path(ctx, common.HostRootEnvKey, "usr/lib/os-release"), parse) != nil {
		return r, err
	}
	return r, nil
}

// unquoteOSRelease strips the shell quoting os-release(5) allows.
func unquoteOSRelease(v []byte) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	return strings.ReplaceAll(string(v), `\`, "")
}

// platformFamilies maps distribution IDs to the family names gopsutil uses.
var platformFamilies = map[string]string{
	"debian": "debian", "ubuntu": "debian", "raspbian": "debian",
	"rhel": "rhel", "centos": "rhel", "fedora": "fedora",
	"suse": "suse", "opensuse": "suse", "sles": "suse",
	"arch": "arch", "alpine": "alpine", "gentoo": "gentoo",
	"slackware": "slackware",
}

// platform returns the distribution, its family and its version, named like
// gopsutil's PlatformInformation: the family comes from ID, else from the
// first entry of ID_LIKE that names a known family.
func (r osRelease) platform() (platform, family, version string) {
	platform, version = r.ID, r.VersionID
	if platform == "amzn" {
		platform = "amazon"
	}
	family = platformFamilies[r.ID]
	for _, like := range strings.Fields(r.IDLike) {
		if family != "" {
			break
		}
		family = platformFamilies[like]
	}
	return platform, family, version
}

// readKernelVersion returns the running kernel's release.
func readKernelVersion(ctx context.Context) (string, error) {
	v, err := readTrimmed(Path(ctx, common.HostProcEnvKey, "sys/kernel/osrelease"))
	if err == nil && v != "" {
		return v, nil
	}
	// Elsewhere than Linux: uname(2), sysctl or the registry; none forks.
	v, err = host.KernelVersionWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("reading kernel version: %w", err)
	}
	return v, nil
}

// readKernelArch returns the machine's architecture as uname -m says it.
func readKernelArch(ctx context.Context) string {
	if v, err := readTrimmed(Path(ctx, common.HostProcEnvKey, "sys/kernel/arch")); err == nil && v != "" {
		return v
	}
	if v, err := host.KernelArch(); err == nil && v != "" {
		return v
	}
	return runtime.GOARCH
}

// readHostname returns the host name, from the fixture-able /proc file
// first (os.Hostname reads the same file on Linux).
func readHostname(ctx context.Context) (string, error) {
	if v, err := readTrimmed(Path(ctx, common.HostProcEnvKey, "sys/kernel/hostname")); err == nil && v != "" {
		return v, nil
	}
	name, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("reading hostname: %w", err)
	}
	return name, nil
}

// readHostID returns the systemd machine ID, else the D-Bus one, else what
// gopsutil finds (it forks ioreg on macOS, so not there).
func readHostID(ctx context.Context) string {
	for _, p := range []string{
		Path(ctx, common.HostEtcEnvKey, "machine-id"),
		Path(ctx, common.HostVarEnvKey, "lib/dbus/machine-id"),
	} {
		if id, err := readTrimmed(p); err == nil && id != "" {
			return id
		}
	}
	if runtime.GOOS == "darwin" {
		return ""
	}
	id, _ := host.HostIDWithContext(ctx)
	return id
}

// virtualization tells what the machine runs in; either may be empty.
type virtualization struct {
	// VM is the hypervisor, named like systemd-detect-virt --vm ("kvm",
	// "vmware", "microsoft", ...), or "vm" when only the CPU says so.
	VM string
	// Container is the container manager ("docker", "podman", "lxc", ...).
	Container string
}

// name is the innermost layer, as the facts report it.
func (v virtualization) name() string {
	if v.Container != "" {
		return v.Container
	}
	return v.VM
}

// dmiVendors maps substrings of the DMI vendor and product strings to
// hypervisor names, in the order systemd-detect-virt checks them.
var dmiVendors = []struct{ match, name string }{
	{"KVM", "kvm"}, {"Amazon EC2", "amazon"}, {"QEMU", "qemu"},
	{"VMware", "vmware"}, {"VMW", "vmware"}, {"innotek GmbH", "oracle"},
	{"VirtualBox", "oracle"}, {"Xen", "xen"}, {"Bochs", "bochs"},
	{"Parallels", "parallels"}, {"BHYVE", "bhyve"},
	{"Google Compute Engine", "google"}, {"Virtual Machine", "microsoft"},
}

// detectVirtualization looks for a container, then a hypervisor, from world
// readable files only. gopsutil's VirtualizationWithContext is avoided: it
// caches its first answer process-wide, whatever root the context names.
func detectVirtualization(ctx context.Context) virtualization {
	var v virtualization
	switch {
	case hostPathExists(Path(ctx, common.HostRootEnvKey, ".dockerenv")):
		v.Container = "docker"
	case hostPathExists(Path(ctx, common.HostRunEnvKey, ".containerenv")):
		v.Container = "podman"
	default:
		// systemd writes the manager's name here when it runs in a container.
		if c, err := readTrimmed(Path(ctx, common.HostRunEnvKey, "systemd/container")); err == nil && c != "" {
			v.Container = c
		} else if cg, err := os.ReadFile(Path(ctx, common.HostProcEnvKey, "1/cgroup")); err == nil {
			switch {
			case bytes.Contains(cg, []byte("/docker")), bytes.Contains(cg, []byte("docker-")):
				v.Container = "docker"
			case bytes.Contains(cg, []byte("/lxc")), bytes.Contains(cg, []byte("lxc.payload")):
				v.Container = "lxc"
			case bytes.Contains(cg, []byte("kubepods")):
				v.Container = "kubernetes"
			}
		}
	}
	for _, f := range []string{"product_name", "sys_vendor", "board_vendor", "bios_vendor"} {
		s, err := readTrimmed(Path(ctx, common.HostSysEnvKey, "class/dmi/id", f))
		if err != nil || s == "" {
			continue
		}
		for _, d := range dmiVendors {
			if strings.Contains(s, d.match) {
				v.VM = d.name
				return v
			}
		}
	}
	if t, err := readTrimmed(Path(ctx, common.HostSysEnvKey, "hypervisor/type")); err == nil && t != "" {
		v.VM = t
		return v
	}
	if cpuHasHypervisorFlag(ctx) {
		v.VM = "vm"
	}
	return v
}

// cpuHasHypervisorFlag reports whether the first CPU in /proc/cpuinfo has
// the x86 "hypervisor" flag. It stops at the first flags line, so the kernel
// formats one CPU's entry, not all of them.
func cpuHasHypervisorFlag(ctx context.Context) bool {
	f, err := os.Open(Path(ctx, common.HostProcEnvKey, "cpuinfo"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 8<<10), 64<<10)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte("flags")) {
			for _, fl := range bytes.Fields(line) {
				if string(fl) == "hypervisor" {
					return true
				}
			}
			return false
		}
	}
	return false
}

// hostPathExists reports whether path names an existing file.
func hostPathExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
