package probe

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

// Registry keys of Windows' security settings.
const (
	firewallPolicyKey = `HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy`
	firewallGPOKey    = `HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall`
	secureBootKey     = `HKLM\SYSTEM\CurrentControlSet\Control\SecureBoot\State`
	windowsUpdateKey  = `HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate`
	systemPolicyKey   = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System`
)

// windows reads the firewall profiles, Secure Boot, the update policy and
// each logged-on user's screen saver lock from the registry, and BitLocker
// from manage-bde.
func (p *securityProbe) windows(ctx context.Context) *SecurityResult {
	r := &SecurityResult{
		Firewall:    windowsFirewall(p.reg),
		SecureBoot:  windowsSecureBoot(p.reg),
		AutoUpdates: windowsUpdates(p.reg),
		ScreenLock:  windowsScreenLock(p.reg),
	}
	drive := os.Getenv("SystemDrive")
	if len(drive) != 2 || drive[1] != ':' {
		drive = "C:"
	}
	out, _, err := p.run(ctx, 64<<10, "manage-bde", "-status", drive)
	if err != nil {
		r.DiskEncryption = &DiskEncryption{Volume: drive, Why: "manage-bde could not be run"}
		r.Errors = append(r.Errors, err.Error())
	} else {
		r.DiskEncryption = parseManageBDE(out, drive)
	}
	return r
}

// windowsFirewall reads the three profiles' EnableFirewall, locally and
// from Group Policy, which wins. The firewall is active when every
// profile is on: Windows picks the profile by network, so one off profile
// leaves some networks unfiltered.
func windowsFirewall(reg winreg.Reader) *Firewall {
	f := &Firewall{}
	var off []string
	unknown := false
	for _, pr := range []struct{ name, local, gpo string }{
		{"domain", "DomainProfile", "DomainProfile"},
		{"private", "StandardProfile", "PrivateProfile"},
		{"public", "PublicProfile", "PublicProfile"},
	} {
		fp := FirewallProfile{Name: pr.name}
		if v, err := reg.Values(firewallPolicyKey + `\` + pr.local); err == nil {
			if e, ok := v["EnableFirewall"]; ok {
				fp.Enabled = pointerTo(e.Int != 0)
			}
		}
		if v, err := reg.Values(firewallGPOKey + `\` + pr.gpo); err == nil {
			if e, ok := v["EnableFirewall"]; ok {
				fp.Enabled, fp.Policy = pointerTo(e.Int != 0), true
			}
		}
		switch {
		case fp.Enabled == nil:
			unknown = true
		case !*fp.Enabled:
			off = append(off, pr.name)
		}
		f.Profiles = append(f.Profiles, fp)
	}
	switch {
	case len(off) > 0:
		f.Active, f.Why = pointerTo(false), "off in the "+strings.Join(off, ", ")+" profile"
	case unknown:
		f.Why = "some profiles' settings could not be read"
	default:
		f.Active, f.Why = pointerTo(true), "on in every profile"
	}
	return f
}

// windowsSecureBoot reads UEFISecureBootEnabled; Windows writes the key
// only when it booted through UEFI.
func windowsSecureBoot(reg winreg.Reader) *SecureBoot {
	v, err := reg.Values(secureBootKey)
	if err != nil {
		return &SecureBoot{Boot: "legacy-bios", Enabled: pointerTo(false), Why: "no SecureBoot\\State key: booted through a legacy BIOS"}
	}
	e, ok := v["UEFISecureBootEnabled"]
	if !ok {
		return &SecureBoot{Boot: "uefi", Why: "UEFISecureBootEnabled is not set"}
	}
	return &SecureBoot{Boot: "uefi", Enabled: pointerTo(e.Int != 0)}
}

// auOptions explains the AUOptions policy values.
var auOptions = map[uint64]string{
	2: "notify before download", 3: "download automatically, notify before install",
	4: "download and install on a schedule", 5: "local administrators choose",
	7: "download automatically, notify before install, schedule restart",
}

// windowsUpdates reads the Windows Update policy. Without one, Windows
// updates itself.
func windowsUpdates(reg winreg.Reader) *AutoUpdates {
	u := &AutoUpdates{Mechanism: "windows-update", Settings: map[string]string{}}
	if v, err := reg.Values(windowsUpdateKey); err == nil {
		for _, k := range []string{"WUServer", "DisableWindowsUpdateAccess"} {
			if x, ok := v[k]; ok {
				u.Settings[k] = cleanText(x.Text(), 256)
			}
		}
	}
	v, err := reg.Values(windowsUpdateKey + `\AU`)
	if err != nil {
		u.Enabled, u.Why = pointerTo(true), "no update policy: Windows installs updates automatically"
		return u
	}
	for _, k := range []string{"NoAutoUpdate", "AUOptions", "UseWUServer"} {
		if x, ok := v[k]; ok {
			u.Settings[k] = cleanText(x.Text(), 32)
		}
	}
	opt, hasOpt := v["AUOptions"]
	switch {
	case v["NoAutoUpdate"].Int == 1:
		u.Enabled, u.Why = pointerTo(false), "NoAutoUpdate is set: automatic updates are off"
	case !hasOpt:
		u.Enabled, u.Why = pointerTo(true), "the policy leaves automatic updates on"
	case opt.Int == 2:
		u.Enabled, u.Why = pointerTo(false), "AUOptions 2: "+auOptions[2]
	case opt.Int == 5:
		u.Why = "AUOptions 5: " + auOptions[5]
	default:
		u.Enabled = pointerTo(true)
		if w, ok := auOptions[opt.Int]; ok {
			u.Why = "AUOptions " + strconv.FormatUint(opt.Int, 10) + ": " + w
		}
	}
	return u
}

// windowsScreenLock reads each logged-on user's screen saver settings
// (Control Panel\Desktop, then the policy key, which wins) and the
// machine's inactivity limit.
func windowsScreenLock(reg winreg.Reader) *ScreenLock {
	s := &ScreenLock{Readable: true}
	if v, err := reg.Values(systemPolicyKey); err == nil {
		if x, ok := v["InactivityTimeoutSecs"]; ok {
			s.MachineInactivityLimitS = pointerTo(int(min(x.Int, 1<<31)))
		}
	}
	for _, u := range windowsUsers(reg) {
		su := ScreenLockUser{User: u.Name}
		read := func(key string, policy bool) {
			v, err := reg.Values(key)
			if err != nil {
				return
			}
			for name, dst := range map[string]**bool{"ScreenSaveActive": &su.Active, "ScreenSaverIsSecure": &su.Secure} {
				if x, ok := v[name]; ok {
					*dst = pointerTo(strings.TrimSpace(x.Text()) == "1")
					su.Policy = su.Policy || policy
				}
			}
			if x, ok := v["ScreenSaveTimeOut"]; ok {
				if n, err := strconv.Atoi(strings.TrimSpace(x.Text())); err == nil && n >= 0 {
					su.TimeoutS, su.Policy = &n, su.Policy || policy
				}
			}
		}
		read(`HKU\`+u.SID+`\Control Panel\Desktop`, false)
		read(`HKU\`+u.SID+`\Software\Policies\Microsoft\Windows\Control Panel\Desktop`, true)
		s.Users = append(s.Users, su)
	}
	if len(s.Users) == 0 && s.MachineInactivityLimitS == nil {
		s.Readable, s.Why = false, "no user is logged on and no machine inactivity limit is set"
	}
	return s
}

// parseManageBDE parses `manage-bde -status C:`: "    Key:   Value" lines
// (Conversion Status, Percentage Encrypted, Encryption Method, Protection
// Status ...). manage-bde writes in the display language; other languages
// than English leave the verdict empty.
func parseManageBDE(b []byte, drive string) *DiskEncryption {
	d := &DiskEncryption{Volume: drive}
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() && len(fields) < 64 {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.HasPrefix(k, "    ") {
			fields[strings.TrimSpace(k)] = cleanText(strings.TrimSpace(v), 64)
		}
	}
	conv, prot := fields["Conversion Status"], fields["Protection Status"]
	if conv == "" {
		d.Why = "manage-bde's output has no Conversion Status"
		return d
	}
	d.Status = conv
	if pct, err := strconv.ParseFloat(strings.TrimSuffix(fields["Percentage Encrypted"], "%"), 64); err == nil {
		d.Percent = &pct
	}
	switch {
	case strings.HasPrefix(prot, "Protection On"):
		d.Protection = "on"
	case strings.HasPrefix(prot, "Protection Off"):
		d.Protection = "off"
	}
	switch conv {
	case "Fully Encrypted", "Used Space Only Encrypted":
		d.Encrypted, d.Scheme = pointerTo(true), "BitLocker"
		if d.Protection == "off" {
			d.Why = "encrypted, but protection is suspended: the key is stored in the clear"
		}
	case "Fully Decrypted":
		d.Encrypted = pointerTo(false)
	default: // Encryption in Progress, Decryption in Progress, paused
		d.Encrypted, d.Scheme = pointerTo(false), "BitLocker"
		d.Why = conv
	}
	return d
}
