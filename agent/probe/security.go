package probe

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

func init() {
	// On Linux the probe reads a few files and dumps the nftables ruleset
	// (bounded): cheap enough for every snapshot. Windows tells BitLocker's
	// state through manage-bde and macOS everything through tools
	// (fdesetup, socketfilterfw, csrutil, defaults): there it is heavy and
	// runs when named.
	Register("security", Spec{Heavy: runtime.GOOS != "linux", Platforms: Everywhere}, func() Probe {
		return &securityProbe{goos: runtime.GOOS, nft: newNFT(), reg: winreg.Live(), run: runTool}
	})
}

// securityProbe reports the machine's security posture: firewall, disk
// encryption of the system volume, Secure Boot, automatic updates and
// screen lock. Each part says what its verdict rests on, and leaves the
// verdict empty (null) when the evidence cannot decide.
type securityProbe struct {
	goos string
	nft  nftSource
	reg  winreg.Reader
	run  toolRunner
	// ruleset is the nftables summary of the last call, and gen the
	// ruleset's generation read before its dumps: while the kernel reports
	// the same generation, the ruleset has not changed (nftables).
	ruleset *NFTables
	gen     uint32
	// updates keeps linuxAutoUpdates' result while the files it read
	// are unchanged.
	updates fileMemo[autoUpdatesRead]
	// mounts reads the mount table again only when it changed.
	mounts mountWatch
}

// autoUpdatesRead is what linuxAutoUpdates returned.
type autoUpdatesRead struct {
	u   *AutoUpdates
	err error
}

// SecurityResult is the security probe's result.
type SecurityResult struct {
	Firewall       *Firewall       `json:"firewall"`
	DiskEncryption *DiskEncryption `json:"disk_encryption"`
	SecureBoot     *SecureBoot     `json:"secure_boot"`
	AutoUpdates    *AutoUpdates    `json:"auto_updates"`
	ScreenLock     *ScreenLock     `json:"screen_lock"`
	Errors         []string        `json:"errors,omitempty"`
}

// Firewall says whether a host firewall filters incoming traffic.
type Firewall struct {
	// Active is null when no signal could tell.
	Active *bool `json:"active"`
	// Why names the evidence Active rests on.
	Why string `json:"why"`
	// NFTables is the nftables ruleset (Linux), which iptables-nft, ufw
	// and firewalld fill.
	NFTables *NFTables `json:"nftables,omitempty"`
	// IPTablesLegacy lists the tables of the legacy iptables modules
	// ("filter", "ip6:filter"): they are loaded, which says iptables-legacy
	// is in use, not that its rules filter anything (they are not read).
	IPTablesLegacy []string `json:"iptables_legacy_tables,omitempty"`
	// UFWEnabled is ENABLED in /etc/ufw/ufw.conf: ufw's intent, loaded at
	// boot; the ruleset shows whether it is in force.
	UFWEnabled *bool `json:"ufw_enabled,omitempty"`
	// FirewalldRunning says firewalld's pid file names a live firewalld.
	FirewalldRunning *bool `json:"firewalld_running,omitempty"`
	// Profiles are Windows Firewall's profiles.
	Profiles []FirewallProfile `json:"profiles,omitempty"`
	// State is macOS' application firewall: on, off or block-all.
	State string `json:"state,omitempty"`
}

// FirewallProfile is one Windows Firewall profile.
type FirewallProfile struct {
	Name string `json:"name"` // domain, private, public
	// Enabled is the profile's effective state: Group Policy's when it
	// sets one, else the local setting.
	Enabled *bool `json:"enabled"`
	// Policy says Group Policy set it.
	Policy bool `json:"policy,omitempty"`
}

// DiskEncryption says whether the system volume is encrypted.
type DiskEncryption struct {
	Volume    string `json:"volume"`
	Encrypted *bool  `json:"encrypted"`
	// Scheme is LUKS1, LUKS2, plain (dm-crypt), BitLocker or FileVault.
	Scheme string `json:"scheme,omitempty"`
	// Device is the mounted device; Chain the block devices under it, top
	// first, as "dm-1 (LVM)".
	Device string   `json:"device,omitempty"`
	Chain  []string `json:"chain,omitempty"`
	// Status is the tool's own words (BitLocker, FileVault).
	Status     string   `json:"status,omitempty"`
	Percent    *float64 `json:"percent_encrypted,omitempty"`
	Protection string   `json:"protection,omitempty"` // BitLocker: on, off (suspended)
	Why        string   `json:"why,omitempty"`
}

// SecureBoot says how the machine booted.
type SecureBoot struct {
	// Boot is uefi, legacy-bios or unknown.
	Boot      string `json:"boot"`
	Enabled   *bool  `json:"enabled"`
	SetupMode *bool  `json:"setup_mode,omitempty"`
	Why       string `json:"why,omitempty"`
	// SIP is macOS' System Integrity Protection: enabled or disabled.
	SIP string `json:"system_integrity_protection,omitempty"`
}

// AutoUpdates says whether updates install without anyone acting.
type AutoUpdates struct {
	Enabled *bool `json:"enabled"`
	// Mechanism is unattended-upgrades, dnf-automatic, windows-update or
	// softwareupdate.
	Mechanism string `json:"mechanism,omitempty"`
	// Settings are the settings the verdict rests on, by name.
	Settings map[string]string `json:"settings,omitempty"`
	Why      string            `json:"why,omitempty"`
}

// ScreenLock says whether an idle session locks.
type ScreenLock struct {
	Readable bool             `json:"readable"`
	Why      string           `json:"why,omitempty"`
	Users    []ScreenLockUser `json:"users,omitempty"`
	// MachineInactivityLimitS is Windows' machine-wide inactivity limit
	// (InactivityTimeoutSecs), after which the session locks.
	MachineInactivityLimitS *int `json:"machine_inactivity_limit_s,omitempty"`
}

// ScreenLockUser is one user's screen saver lock (Windows).
type ScreenLockUser struct {
	User     string `json:"user"`
	Active   *bool  `json:"screensaver_active"`
	Secure   *bool  `json:"password_on_resume"`
	TimeoutS *int   `json:"timeout_s,omitempty"`
	// Policy says Group Policy set some of these.
	Policy bool `json:"policy,omitempty"`
}

func (p *securityProbe) Name() string { return "security" }

func (p *securityProbe) Collect(ctx context.Context, env *Env) (any, error) {
	switch p.goos {
	case "linux":
		return p.linux(ctx), nil
	case "windows":
		if env.Health {
			return nil, errHealthTool
		}
		return p.windows(ctx), nil
	case "darwin":
		if env.Health {
			return nil, errHealthTool
		}
		return p.macOS(ctx), nil
	}
	return nil, notAvailable("no security reader for %s", p.goos)
}

// linux reads each part from files and the nftables ruleset.
func (p *securityProbe) linux(ctx context.Context) *SecurityResult {
	r := &SecurityResult{}
	fail := func(err error) {
		if err != nil {
			r.Errors = append(r.Errors, err.Error())
		}
	}
	var err error
	r.Firewall, err = p.linuxFirewall(ctx)
	fail(err)
	r.DiskEncryption, err = linuxDiskEncryption(ctx, &p.mounts)
	fail(err)
	r.SecureBoot, err = linuxSecureBoot(ctx)
	fail(err)
	got := p.updates.get(ctx, func(ctx context.Context) autoUpdatesRead {
		u, err := linuxAutoUpdates(ctx)
		return autoUpdatesRead{u, err}
	})
	r.AutoUpdates = got.u
	fail(got.err)
	r.ScreenLock = &ScreenLock{Why: "per-user desktop settings: GNOME keeps them in dconf, a binary database the probe does not read"}
	return r
}

// nftables dumps and summarises the ruleset, or returns the summary of the
// last call when the kernel reports the generation read before its dumps:
// three dumps and their parsing (0.17 ms) for one small request. The
// generation is read before the dumps, so a change during them is seen
// at the next call.
func (p *securityProbe) nftables(ctx context.Context) (*NFTables, error) {
	if p.nft == nil {
		return nil, errors.New("nftables: not available in this build")
	}
	gen, genOK := p.nftGen(ctx)
	if genOK && p.ruleset != nil && gen == p.gen {
		return p.ruleset, nil
	}
	p.ruleset = nil
	var dumps [3][]byte
	truncated := false
	for i, cmd := range []uint8{nftMsgGetTable, nftMsgGetChain, nftMsgGetRule} {
		b, err := p.nft.Dump(ctx, cmd)
		if errors.Is(err, errNetlinkTruncated) {
			truncated, err = true, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the nftables ruleset: %w", err)
		}
		dumps[i] = b
	}
	n, err := parseNFT(dumps[0], dumps[1], dumps[2])
	if err != nil {
		return nil, fmt.Errorf("reading the nftables ruleset: %w", err)
	}
	n.Truncated = n.Truncated || truncated
	if genOK {
		p.ruleset, p.gen = n, gen
	}
	return n, nil
}

// nftGen reads the ruleset's generation; false where it cannot be read.
func (p *securityProbe) nftGen(ctx context.Context) (uint32, bool) {
	src, ok := p.nft.(nftGenSource)
	if !ok {
		return 0, false
	}
	b, err := src.Gen(ctx)
	if err != nil {
		return 0, false
	}
	gen, err := parseNFTGen(b)
	return gen, err == nil
}

// pointerTo returns a pointer to a copy of v: the verdicts are pointers,
// null when the evidence cannot decide.
func pointerTo[T any](v T) *T { return &v }
