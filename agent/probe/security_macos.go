package probe

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"strings"
)

// macOS reads each part through the platform's own tools.
func (p *securityProbe) macOS(ctx context.Context) *SecurityResult {
	r := &SecurityResult{ScreenLock: &ScreenLock{Why: "a per-user setting macOS tells only in the user's own session"}}
	tool := func(name string, args ...string) []byte {
		out, _, err := p.run(ctx, 64<<10, name, args...)
		if err != nil {
			r.Errors = append(r.Errors, err.Error())
			return nil
		}
		return out
	}
	r.Firewall = parseSocketFilterFW(tool("/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate"))
	r.DiskEncryption = parseFDESetup(tool("fdesetup", "status"))
	r.SecureBoot = &SecureBoot{Boot: "unknown", SIP: parseCSRUtil(tool("csrutil", "status")),
		Why: "macOS tells its Secure Boot policy only to a privileged tool (bputil); System Integrity Protection shown instead"}
	out, _, err := p.run(ctx, 64<<10, "defaults", "read", "/Library/Preferences/com.apple.SoftwareUpdate")
	if err != nil && !strings.Contains(err.Error(), "does not exist") {
		r.Errors = append(r.Errors, err.Error())
	}
	r.AutoUpdates = parseSoftwareUpdate(out)
	return r
}

// parseSocketFilterFW parses "Firewall is enabled. (State = 1)"; State 2
// blocks every incoming connection.
func parseSocketFilterFW(b []byte) *Firewall {
	s := string(b)
	f := &Firewall{}
	switch {
	case strings.Contains(s, "State = 2"):
		f.State, f.Active, f.Why = "block-all", pointerTo(true), "the application firewall blocks all incoming connections"
	case strings.Contains(s, "enabled"):
		f.State, f.Active, f.Why = "on", pointerTo(true), "the application firewall is on"
	case strings.Contains(s, "disabled"):
		f.State, f.Active, f.Why = "off", pointerTo(false), "the application firewall is off (pf rules are not read)"
	default:
		f.Why = "socketfilterfw's answer was not understood"
	}
	return f
}

// parseFDESetup parses `fdesetup status`: "FileVault is On.", "FileVault
// is Off.", "Encryption in progress: Percent completed = 42".
func parseFDESetup(b []byte) *DiskEncryption {
	d := &DiskEncryption{Volume: "/"}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	d.Status = cleanText(line, 128)
	switch {
	case strings.HasPrefix(line, "FileVault is On"):
		d.Encrypted, d.Scheme = pointerTo(true), "FileVault"
	case strings.HasPrefix(line, "FileVault is Off"):
		d.Encrypted = pointerTo(false)
	case strings.Contains(line, "in progress"):
		d.Encrypted, d.Scheme, d.Why = pointerTo(false), "FileVault", "encryption is in progress"
		if _, pct, ok := strings.Cut(line, "= "); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64); err == nil {
				d.Percent = &v
			}
		}
	default:
		d.Why = "fdesetup's answer was not understood"
	}
	return d
}

// parseCSRUtil parses "System Integrity Protection status: enabled."
func parseCSRUtil(b []byte) string {
	_, v, ok := strings.Cut(string(b), "status:")
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(strings.TrimSpace(v), "\n")
	return cleanText(strings.TrimSuffix(strings.TrimSpace(v), "."), 32)
}

// parseSoftwareUpdate parses `defaults read` of the SoftwareUpdate
// preferences ("    AutomaticCheckEnabled = 1;"). A key not set is on,
// as macOS treats it. Updates are automatic when macOS checks for them
// and installs security responses and system files
// (CriticalUpdateInstall). Profiles a management server installs
// (/Library/Managed Preferences) are not read.
func parseSoftwareUpdate(b []byte) *AutoUpdates {
	u := &AutoUpdates{Mechanism: "softwareupdate", Settings: map[string]string{}}
	keys := map[string]bool{"AutomaticCheckEnabled": true, "AutomaticDownload": true, "AutomaticallyInstallMacOSUpdates": true,
		"CriticalUpdateInstall": true, "ConfigDataInstall": true}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		k = strings.TrimSpace(k)
		if ok && keys[k] {
			u.Settings[k] = cleanText(strings.Trim(strings.TrimSpace(v), `;"`), 16)
		}
	}
	on := func(k string) bool { v, ok := u.Settings[k]; return !ok || v == "1" }
	switch {
	case !on("AutomaticCheckEnabled"):
		u.Enabled, u.Why = pointerTo(false), "automatic checking for updates is off"
	case !on("CriticalUpdateInstall"):
		u.Enabled, u.Why = pointerTo(false), "security responses and system files are not installed automatically"
	default:
		u.Enabled = pointerTo(true)
		if !on("AutomaticallyInstallMacOSUpdates") {
			u.Why = "security responses install automatically; macOS updates wait for the user"
		}
	}
	return u
}
