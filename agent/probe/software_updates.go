package probe

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v3/common"
)

// rebootNotifiers are the hooks that create /run/reboot-required on
// Debian and Ubuntu (update-notifier's, unattended-upgrades' kernel hook).
// Where none is installed, nothing would create the file, and its absence
// says nothing.
var rebootNotifiers = []struct {
	key  common.EnvKeyType
	path string
}{
	{common.HostRootEnvKey, "usr/share/update-notifier/notify-reboot-required"},
	{common.HostEtcEnvKey, "kernel/postinst.d/unattended-upgrades"},
	{common.HostEtcEnvKey, "kernel/postinst.d/update-notifier"},
}

// debianReboot reads /run/reboot-required (as the system probe does, but
// with how long the reboot has been pending), which Debian's and Ubuntu's
// package hooks create when an upgrade needs a reboot, with the packages
// that asked for it in reboot-required.pkgs. It returns nil when the
// machine has neither the file nor a hook that would create it.
func (p *softwareProbe) debianReboot(ctx context.Context) *RebootState {
	fi, err := os.Stat(Path(ctx, common.HostRunEnvKey, "reboot-required"))
	if err != nil {
		for _, n := range rebootNotifiers {
			if _, err := os.Stat(Path(ctx, n.key, n.path)); err == nil {
				return &RebootState{}
			}
		}
		return nil
	}
	r := &RebootState{Required: true, Since: unixOf(fi.ModTime())}
	r.PendingSeconds = max(p.now().Unix()-r.Since, 0)
	b, _, err := readBounded(Path(ctx, common.HostRunEnvKey, "reboot-required.pkgs"), 64<<10, false)
	if err != nil {
		return r
	}
	seen := map[string]bool{}
	for _, f := range bytes.Fields(b) {
		name := cleanText(string(f), maxSoftwareText)
		switch {
		case seen[name]:
		case len(r.Packages) == maxRebootPackages:
			r.PackagesLeftOff++
		default:
			r.Packages = append(r.Packages, name)
		}
		seen[name] = true
	}
	return r
}

// debianUpdates reads the count of pending updates that Ubuntu's
// update-notifier keeps in /var/lib/update-notifier/updates-available:
//
//	12 updates can be applied immediately.
//	5 of these updates are standard security updates.
//
// (older releases: "12 packages can be updated." and "5 updates are
// security updates."). It returns nil without the file.
func debianUpdates(ctx context.Context) *PendingUpdates {
	path := Path(ctx, common.HostVarEnvKey, "lib/update-notifier/updates-available")
	b, _, err := readBounded(path, 64<<10, false)
	if err != nil {
		return nil
	}
	u := parseUpdatesAvailable(b)
	u.CheckedAt = mtimeOf(path)
	return u
}

// The lines of update-notifier's message that count updates, after the
// number, as its releases have written them.
var (
	updatesAvailableLines = []string{"updates can be applied immediately", "update can be applied immediately",
		"packages can be updated", "package can be updated"}
	updatesSecurityLines = []string{"of these updates are standard security updates", "of these updates is a standard security update",
		"of these updates are security updates", "of these updates is a security update",
		"updates are security updates", "update is a security update"}
)

// parseUpdatesAvailable reads the counts of update-notifier's message.
func parseUpdatesAvailable(b []byte) *PendingUpdates {
	u := &PendingUpdates{}
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		f := bytes.Fields(line)
		if len(f) < 4 {
			continue
		}
		n, err := strconv.Atoi(string(f[0]))
		if err != nil || n < 0 {
			continue
		}
		text := string(bytes.Join(f[1:], []byte{' '}))
		starts := func(p string) bool { return strings.HasPrefix(text, p) }
		switch {
		case slices.ContainsFunc(updatesAvailableLines, starts):
			u.Available = n
		case slices.ContainsFunc(updatesSecurityLines, starts):
			u.Security = n
		}
	}
	return u
}
