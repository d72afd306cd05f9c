package probe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/shirou/gopsutil/v3/common"
	"github.com/shirou/gopsutil/v3/host"
)

func init() {
	Register("system", Spec{Platforms: Everywhere}, func() Probe {
		return &systemProbe{users: host.UsersWithContext}
	})
}

// systemProbe reports the operating system, kernel, uptime, virtualization,
// logged-in users and whether a reboot is pending.
type systemProbe struct {
	// users lists the sessions in utmp. gopsutil reads HOST_VAR/run/utmp,
	// whose record layout differs between architectures, so tests inject it.
	users func(ctx context.Context) ([]host.UserStat, error)
	// virt and bootTime do not change while the machine runs: read once.
	virt     *virtualization
	bootTime int64
}

// maxUsers bounds the sessions reported: a terminal server can have many.
// maxRebootPackages bounds the packages said to need a reboot.
const (
	maxUsers          = 50
	maxRebootPackages = 50
)

// SystemResult is the system probe's full result.
type SystemResult struct {
	Hostname        string `json:"hostname"`
	OS              string `json:"os"`
	Platform        string `json:"platform,omitempty"`
	PlatformFamily  string `json:"platform_family,omitempty"`
	PlatformVersion string `json:"platform_version,omitempty"`
	PrettyName      string `json:"pretty_name,omitempty"`
	KernelVersion   string `json:"kernel_version,omitempty"`
	Arch            string `json:"arch"`
	// Virtualization is the hypervisor, Container the container manager.
	Virtualization string `json:"virtualization,omitempty"`
	Container      string `json:"container,omitempty"`
	BootTime       int64  `json:"boot_time"` // Unix seconds
	UptimeSeconds  int64  `json:"uptime_seconds"`
	// Users are the logged-in sessions, oldest first.
	Users     []SystemUser `json:"users"`
	UsersLeft int          `json:"users_left_off,omitempty"`
	// RebootRequired is Debian's and Ubuntu's /run/reboot-required flag;
	// RebootRequiredBy lists the packages that set it.
	RebootRequired   bool     `json:"reboot_required"`
	RebootRequiredBy []string `json:"reboot_required_by,omitempty"`
	Errors           []string `json:"errors,omitempty"`
}

// SystemUser is one logged-in session.
type SystemUser struct {
	User     string `json:"user"`
	Terminal string `json:"terminal,omitempty"`
	Host     string `json:"host,omitempty"`
	Started  int64  `json:"started"` // Unix seconds
}

// SystemHealth is the system probe's light result.
type SystemHealth struct {
	UptimeSeconds int64 `json:"uptime_seconds"`
}

func (p *systemProbe) Name() string { return "system" }

func (p *systemProbe) Collect(ctx context.Context, env *Env) (any, error) {
	up, err := readUptime(ctx)
	if err != nil {
		return nil, err
	}
	if env.Health {
		return &SystemHealth{UptimeSeconds: int64(up)}, nil
	}
	r := &SystemResult{OS: runtime.GOOS, Arch: readKernelArch(ctx), UptimeSeconds: int64(up), Users: []SystemUser{}}
	fail := func(err error) { r.Errors = append(r.Errors, err.Error()) }

	if r.Hostname, err = readHostname(ctx); err != nil {
		fail(err) // it says what it was reading
	}
	if rel, err := readOSRelease(ctx); err != nil {
		fail(fmt.Errorf("reading os-release: %w", err))
	} else {
		r.Platform, r.PlatformFamily, r.PlatformVersion = rel.platform()
		r.PrettyName = rel.PrettyName
	}
	if r.KernelVersion, err = readKernelVersion(ctx); err != nil {
		fail(err) // it says what it was reading
	}
	if p.virt == nil {
		v := detectVirtualization(ctx)
		p.virt = &v
	}
	r.Virtualization, r.Container = p.virt.VM, p.virt.Container
	if p.bootTime == 0 {
		if p.bootTime, err = readBootTime(ctx); err != nil {
			fail(err)
		}
	}
	r.BootTime = p.bootTime
	p.readUsers(ctx, r, fail)
	p.readReboot(ctx, r, fail)
	return r, nil
}

// readUsers fills the logged-in sessions. A machine without utmp (a
// container, a minimal server) has no sessions, which is not an error.
func (p *systemProbe) readUsers(ctx context.Context, r *SystemResult, fail func(error)) {
	us, err := p.users(ctx)
	// gopsutil's "not implemented yet" error is internal: match its text.
	if err != nil && !errors.Is(err, fs.ErrNotExist) && err.Error() != "not implemented yet" {
		fail(fmt.Errorf("reading logged-in users: %w", err))
	}
	sort.SliceStable(us, func(i, j int) bool { return us[i].Started < us[j].Started })
	for _, u := range us {
		if len(r.Users) == maxUsers {
			r.UsersLeft++
			continue
		}
		r.Users = append(r.Users, SystemUser{User: u.User, Terminal: u.Terminal, Host: u.Host, Started: int64(u.Started)})
	}
}

// readReboot reads the flag Debian's update-notifier and unattended-upgrades
// leave when an upgraded package needs a reboot.
func (p *systemProbe) readReboot(ctx context.Context, r *SystemResult, fail func(error)) {
	path := Path(ctx, common.HostRunEnvKey, "reboot-required")
	if _, err := os.Stat(path); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fail(fmt.Errorf("checking reboot flag: %w", err))
		}
		return
	}
	r.RebootRequired = true
	pkgs, err := readTrimmed(path + ".pkgs")
	if err != nil {
		return // the list is optional
	}
	seen := map[string]bool{}
	for _, pkg := range strings.Fields(pkgs) {
		if !seen[pkg] && len(r.RebootRequiredBy) < maxRebootPackages {
			seen[pkg] = true
			r.RebootRequiredBy = append(r.RebootRequiredBy, pkg)
		}
	}
}
