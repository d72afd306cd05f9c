package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

// This file reads Windows' installed programs, hotfixes and pending
// reboot from the registry, through winreg.Reader: the live registry on
// Windows, a .reg export in tests on any system.

// Registry paths the software probe reads.
const (
	uninstallPath       = `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`
	uninstallPath32     = `SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall`
	userUninstallPath   = `Software\Microsoft\Windows\CurrentVersion\Uninstall`
	cbsPath             = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing`
	cbsPackagesPath     = cbsPath + `\Packages`
	windowsUpdateReboot = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired`
)

// readWindowsPrograms lists the programs of Settings' "Installed apps" (and
// the control panel's "Programs and Features"): the uninstall entries of
// the machine, 64- and 32-bit, and of each user whose hive is loaded
// (those logged in). Like them it leaves out entries without a display
// name, system components and updates of another entry (ParentKeyName).
func readWindowsPrograms(ctx context.Context, p *softwareProbe) ([]SoftwarePackage, int, bool, error) {
	r := p.registry()
	type root struct{ path, arch, user string }
	roots := []root{{`HKLM\` + uninstallPath, "", ""}, {`HKLM\` + uninstallPath32, "x86", ""}}
	users, err := r.Subkeys(`HKU`)
	if err == nil {
		for _, sid := range users {
			// S-1-5-21-...: people; .DEFAULT and the service accounts'
			// hives install nothing of note, *_Classes are file classes.
			if strings.HasPrefix(sid, "S-1-5-21-") && !strings.HasSuffix(sid, "_Classes") {
				roots = append(roots, root{`HKU\` + sid + `\` + userUninstallPath, "", sid})
			}
		}
	}
	var pkgs []SoftwarePackage
	more, found := 0, false
	for _, rt := range roots {
		keys, err := r.Subkeys(rt.path)
		if errors.Is(err, winreg.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, false, fmt.Errorf("listing installed programs: %w", err)
		}
		found = true
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				return nil, 0, false, fmt.Errorf("listing installed programs: %w", err)
			}
			v, err := r.Values(rt.path + `\` + k)
			if err != nil || v["DisplayName"].Text() == "" || v["SystemComponent"].Int == 1 || v["ParentKeyName"].Text() != "" {
				continue
			}
			if len(pkgs) == maxSoftwareFound {
				more++
				continue
			}
			pkgs = append(pkgs, SoftwarePackage{
				Name: v["DisplayName"].Text(), Version: v["DisplayVersion"].Text(), Publisher: v["Publisher"].Text(),
				Arch: rt.arch, User: rt.user, ID: k, InstalledAt: installDate(v["InstallDate"].Text()),
			})
		}
	}
	if !found {
		return nil, 0, false, notAvailable("no uninstall keys in the registry")
	}
	return pkgs, more, more > 0, nil
}

// installDate parses an uninstall entry's InstallDate, yyyymmdd, as
// midnight UTC in Unix seconds (the entry does not say in which zone);
// 0 when it is not such a date.
func installDate(s string) int64 {
	t, err := time.Parse("20060102", strings.TrimSpace(s))
	if err != nil || t.Year() < 1980 {
		return 0
	}
	return t.Unix()
}

// cbsStates names the states of a Component Based Servicing package (its
// CurrentState value) in which its update counts as present, best first;
// the name is the update's status, "" for installed.
var cbsStates = []struct {
	value  uint64
	status string
}{
	{0x70, ""}, // installed
	{0x80, ""}, // permanent
	{0x65, "partially-installed"},
	{0x60, "install-pending"},
	{0x05, "uninstall-pending"},
	{0x50, "superseded"},
}

// cbsState returns the rank in cbsStates of a CurrentState value, and
// false for a state in which the update is absent.
func cbsState(v winreg.Value) (int, bool) {
	if v.Type != winreg.DWord {
		return 0, false
	}
	for i, s := range cbsStates {
		if s.value == v.Int {
			return i, true
		}
	}
	return 0, false
}

// readHotfixes lists the updates (KB articles) that Windows' servicing
// stack has installed: the Component Based Servicing packages whose names
// (or, for cumulative "RollupFix" packages, install location) carry a KB
// number. The older HotFix key stopped being kept up to date in Windows 8.
// An update made of several packages is listed once, with its latest
// install time and the best state among them.
func readHotfixes(ctx context.Context, p *softwareProbe) ([]SoftwarePackage, int, bool, error) {
	r := p.registry()
	keys, err := r.Subkeys(cbsPackagesPath)
	if errors.Is(err, winreg.ErrNotExist) {
		return nil, 0, false, notAvailable("no Component Based Servicing packages in the registry")
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("listing servicing packages: %w", err)
	}
	type update struct {
		SoftwarePackage
		rank int
	}
	byKB := map[string]*update{}
	more := 0
	for _, k := range keys {
		upper := strings.ToUpper(k)
		if !strings.Contains(upper, "KB") && !strings.Contains(upper, "ROLLUPFIX") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, false, fmt.Errorf("listing servicing packages: %w", err)
		}
		v, err := r.Values(cbsPackagesPath + `\` + k)
		if err != nil {
			continue
		}
		kb := kbNumber(k)
		if kb == "" {
			kb = kbNumber(v["InstallLocation"].Text())
		}
		rank, present := cbsState(v["CurrentState"])
		if kb == "" || !present {
			continue
		}
		at := filetimeUnix(v["InstallTimeHigh"].Int<<32 | v["InstallTimeLow"].Int)
		pk, seen := byKB[kb]
		if !seen {
			if len(byKB) == maxSoftwareFound {
				more++
				continue
			}
			pk = &update{SoftwarePackage{Name: kb}, len(cbsStates)}
			byKB[kb] = pk
		}
		if at >= pk.InstalledAt {
			pk.InstalledAt, pk.Version = at, cbsVersion(k)
		}
		pk.rank = min(pk.rank, rank)
	}
	pkgs := make([]SoftwarePackage, 0, len(byKB))
	for _, pk := range byKB {
		pk.Status = cbsStates[pk.rank].status
		pkgs = append(pkgs, pk.SoftwarePackage)
	}
	return pkgs, more, more > 0, nil
}

// kbNumber returns the first "KB" followed by digits in s, in upper case.
func kbNumber(s string) string {
	upper := strings.ToUpper(s)
	for i := 0; ; {
		j := strings.Index(upper[i:], "KB")
		if j < 0 {
			return ""
		}
		start := i + j + 2
		end := start
		for end < len(upper) && upper[end] >= '0' && upper[end] <= '9' {
			end++
		}
		if end > start {
			return upper[start-2 : end]
		}
		i = start
	}
}

// cbsVersion returns the version in a servicing package's name,
// Package_for_KB5034441~31bf3856ad364e35~amd64~~10.0.1.0: its last field.
func cbsVersion(name string) string {
	f := strings.Split(name, "~")
	if len(f) < 5 {
		return ""
	}
	return f[len(f)-1]
}

// filetimeUnix converts a Windows FILETIME (100 ns since 1601) to Unix
// seconds, 0 for none.
func filetimeUnix(ft uint64) int64 {
	const unixEpoch = 116444736000000000
	if ft <= unixEpoch {
		return 0
	}
	return int64((ft - unixEpoch) / 1e7)
}

// windowsReboot says whether Windows waits for a reboot: the servicing
// stack's RebootPending key or Windows Update's RebootRequired key
// exists. Nil when the registry cannot tell.
func windowsReboot(r winreg.Reader) *RebootState {
	state := &RebootState{}
	for _, k := range []struct{ path, reason string }{
		{cbsPath + `\RebootPending`, "component-based-servicing"},
		{windowsUpdateReboot, "windows-update"},
	} {
		_, err := r.Values(k.path)
		switch {
		case err == nil:
			state.Required = true
			state.Reasons = append(state.Reasons, k.reason)
		case !errors.Is(err, winreg.ErrNotExist):
			return nil
		}
	}
	if _, err := r.Subkeys(cbsPath); err != nil && !state.Required {
		return nil // no servicing stack here: not Windows
	}
	return state
}
