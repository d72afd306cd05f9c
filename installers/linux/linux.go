// Package linux makes the Linux packages of a release with nfpm: a .deb
// and an .rpm of sonde-agent and of sonde-collector (which carries the
// sonde CLI too) for each Linux target. Each holds its own hardened
// systemd unit and POSIX sh maintainer scripts (files/ and scripts/,
// embedded), and is byte-identical across two builds of the same commit:
// every timestamp is the release's Epoch, owners are root, the build host
// is fixed. README.md says what installing, upgrading, removing and
// purging do.
package linux

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"regexp"

	"github.com/sondehq/sonde/installers/release"
)

// assets are the files the packages install and the pieces of their
// maintainer scripts.
//
//go:embed files scripts
var assets embed.FS

// pkg is one package of the release.
type pkg struct {
	name        string
	summary     string
	description string
	// programs are the release programs installed in /usr/bin.
	programs []string
	// files are installed from files/.
	files []file
	// dirs are folders the package owns beyond the parents of its files,
	// which rpm (unlike dpkg) leaves unowned.
	dirs []string
	// script is the package's part of its maintainer scripts,
	// scripts/<script>.sh.
	script string
	// depends are the packages needed, by format (deb, rpm).
	depends map[string][]string
	// suggests are packages some of its features use.
	suggests []string
}

// file is one installed file of files/.
type file struct {
	src  string // under files/
	dst  string
	mode fs.FileMode
	// conf marks a file the administrator may change: an upgrade keeps
	// the change (a dpkg conffile, an rpm %config(noreplace)).
	conf bool
}

// The two packages.
var packages = []pkg{
	{
		name:    release.Agent,
		summary: "Sonde diagnostics agent",
		description: "Sonde diagnostics agent\n" +
			"Takes read-only diagnostics snapshots of this machine (hardware, OS, network,\n" +
			"services, processes) for IT support and sends them to a Sonde collector.\n" +
			"Install with SONDE_ENROLL_COLLECTOR, SONDE_ENROLL_TOKEN and SONDE_ENROLL_CA_PIN\n" +
			"in the environment, or place /etc/sonde-agent/enroll.env, and it enrolls itself.",
		programs: []string{release.Agent},
		files: []file{
			{src: "sonde-agent.service", dst: "/usr/lib/systemd/system/sonde-agent.service", mode: 0o644},
			{src: "agent.yaml", dst: "/etc/sonde-agent/agent.yaml", mode: 0o644, conf: true},
		},
		dirs:     []string{"/etc/sonde-agent"},
		script:   "agent",
		suggests: []string{"smartmontools"},
	},
	{
		name:    release.Collector,
		summary: "Sonde collector and the sonde command line",
		description: "Sonde collector and the sonde command line\n" +
			"Enrolls Sonde agents and receives their snapshots over QUIC (port 7443),\n" +
			"stores them, builds diagnostic bundles for tickets and raises alerts; serves\n" +
			"the API, the web UI and Prometheus metrics on 127.0.0.1:7080. Runs as the\n" +
			"system user sonde, with its data in /var/lib/sonde-collector.",
		programs: []string{release.Collector, release.CLI},
		files: []file{
			{src: "sonde-collector.service", dst: "/usr/lib/systemd/system/sonde-collector.service", mode: 0o644},
			{src: "collector.env", dst: "/etc/sonde-collector/collector.env", mode: 0o600, conf: true},
			{src: "60-sonde-collector.conf", dst: "/usr/lib/sysctl.d/60-sonde-collector.conf", mode: 0o644},
		},
		dirs:   []string{"/etc/sonde-collector"},
		script: "collector",
		// useradd makes the collector's account.
		depends: map[string][]string{"deb": {"passwd"}, "rpm": {"/usr/sbin/useradd"}},
	},
}

// Build writes the .deb and .rpm of each package for each Linux target
// into b.Out and returns their paths. The binaries must be built already
// (b.Binaries).
func Build(ctx context.Context, b *release.Build) ([]string, error) {
	return build(ctx, b, release.LinuxTargets)
}

// version is what dpkg and rpm both take as a version, with no revision
// or release part ("-") and no epoch (":").
var version = regexp.MustCompile(`^[0-9][0-9A-Za-z.+~]*$`)

func build(ctx context.Context, b *release.Build, targets []release.Target) ([]string, error) {
	if !version.MatchString(b.Version) {
		return nil, fmt.Errorf("linux packages: version %q: want a digit, then digits, letters, '.', '+' and '~' only", b.Version)
	}
	if b.Epoch.IsZero() {
		return nil, fmt.Errorf("linux packages: no Epoch for the timestamps")
	}
	stage, err := os.MkdirTemp("", "sonde-linux-")
	if err != nil {
		return nil, fmt.Errorf("linux packages: %w", err)
	}
	defer os.RemoveAll(stage)
	// nfpm reads what it packs from files.
	if err := os.CopyFS(stage, assets); err != nil {
		return nil, fmt.Errorf("linux packages: staging the unit and configuration files: %w", err)
	}
	var out []string
	for _, p := range packages {
		for _, t := range targets {
			for _, f := range formats {
				if err := ctx.Err(); err != nil {
					return out, fmt.Errorf("linux packages: %w", err)
				}
				path, err := write(b, stage, p, t, f)
				if err != nil {
					return out, fmt.Errorf("linux packages: %s %s for %s: %w", p.name, f.name, t, err)
				}
				out = append(out, path)
			}
		}
	}
	return out, nil
}
