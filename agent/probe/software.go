package probe

import (
	"cmp"
	"context"
	"errors"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/sondehq/sonde/agent/probe/winreg"
)

func init() {
	Register("software", Spec{Heavy: true, Platforms: Everywhere}, func() Probe {
		return &softwareProbe{platform: runtime.GOOS, registry: winreg.Live, tool: runTool, now: time.Now,
			zone: (&timeProbe{getenv: os.Getenv, local: time.Local}).zone}
	})
}

// Bounds of the software probe's result.
const (
	// maxSoftwarePackages bounds the packages listed per source; the rest
	// are counted in the source's left_off.
	maxSoftwarePackages = 5000
	// maxSoftwareFound bounds the packages a source collects before they
	// are sorted and cut to maxSoftwarePackages; past it a source only
	// counts, and says it was truncated.
	maxSoftwareFound = 20000
	// maxSoftwareBytes bounds the whole list, estimated as encoded JSON.
	maxSoftwareBytes = 2 << 20
	// maxSoftwareText bounds each string of a package, in bytes.
	maxSoftwareText = 256
)

// softwareProbe lists installed software by source (dpkg, rpm, snap,
// flatpak; Windows' uninstall entries and hotfixes; macOS applications
// and package receipts), with when each was installed or last upgraded,
// and whether updates or a reboot are pending. It is heavy: a snapshot
// runs it only when it names it.
type softwareProbe struct {
	// platform is the GOOS whose sources are read; tests read Windows'
	// and macOS' sources from fixtures on Linux.
	platform string
	// registry opens the Windows registry.
	registry func() winreg.Reader
	// tool runs a platform's fixed tool (rpm); see runTool.
	tool func(ctx context.Context, limit int, name string, args ...string) ([]byte, bool, error)
	now  func() time.Time
	// zone returns the host's time zone, in which dpkg.log is written.
	zone func(ctx context.Context) (string, *time.Location)
}

func (p *softwareProbe) Name() string { return "software" }

// SoftwareResult is the software probe's full result. Packages are sorted
// by source, then name, so that two snapshots compare line by line.
type SoftwareResult struct {
	Sources  []SoftwareSource  `json:"sources"`
	Packages []SoftwarePackage `json:"packages"`
	// Truncated says the list reached its size bound; the sources'
	// left_off count the packages it leaves out.
	Truncated bool            `json:"truncated,omitempty"`
	Reboot    *RebootState    `json:"reboot,omitempty"`
	Updates   *PendingUpdates `json:"updates,omitempty"`
}

// SoftwareSource is one package database and how reading it went.
type SoftwareSource struct {
	Name string `json:"name"`
	// Packages is how many packages of this source are listed.
	Packages int `json:"packages"`
	// LeftOff counts the source's packages found but not listed.
	LeftOff int `json:"left_off,omitempty"`
	// Truncated says reading stopped at a bound: there may be packages
	// beyond those counted, and those listed may not be the first by name.
	Truncated bool `json:"truncated,omitempty"`
	// Error says why the source could not be read; "not available here:
	// ..." when the machine does not have it.
	Error string `json:"error,omitempty"`
}

// SoftwarePackage is one installed package, application or update.
type SoftwarePackage struct {
	Source    string `json:"source"`
	Name      string `json:"name"`
	Version   string `json:"version,omitempty"`
	Arch      string `json:"arch,omitempty"`
	Publisher string `json:"publisher,omitempty"`
	// ID is the source's own identifier where it is not the name: a
	// bundle identifier, a flatpak ref, a Windows uninstall key.
	ID string `json:"id,omitempty"`
	// Revision is a snap's revision or a flatpak's deployed commit.
	Revision string `json:"revision,omitempty"`
	// User is the security identifier of the user a Windows program is
	// installed for; empty for the machine.
	User string `json:"user,omitempty"`
	// Status is set when the package is not simply installed: dpkg's
	// "half-configured", a hotfix's "install-pending" ...
	Status string `json:"status,omitempty"`
	// InstalledAt is when the package was installed or last upgraded, in
	// Unix seconds; 0 when unknown.
	InstalledAt int64 `json:"installed_at,omitempty"`
}

// RebootState says whether the platform asks for a reboot, and since when.
type RebootState struct {
	Required bool `json:"required"`
	// Since is when the reboot became required, in Unix seconds, and
	// PendingSeconds how long ago that was; 0 when unknown.
	Since          int64 `json:"since,omitempty"`
	PendingSeconds int64 `json:"pending_seconds,omitempty"`
	// Packages are those that asked for it (Debian and Ubuntu).
	Packages        []string `json:"packages,omitempty"`
	PackagesLeftOff int      `json:"packages_left_off,omitempty"`
	// Reasons name the registry keys that say so (Windows).
	Reasons []string `json:"reasons,omitempty"`
}

// PendingUpdates is what the platform last counted of available updates.
type PendingUpdates struct {
	Available int `json:"available"`
	Security  int `json:"security"`
	// CheckedAt is when the count was made, in Unix seconds.
	CheckedAt int64 `json:"checked_at,omitempty"`
}

// SoftwareHealth is the software probe's light result: pending reboot
// and updates, from a few small files or registry keys, no package list.
type SoftwareHealth struct {
	Reboot  *RebootState    `json:"reboot,omitempty"`
	Updates *PendingUpdates `json:"updates,omitempty"`
}

// softwareSource reads one package database. more counts packages found
// beyond those returned; truncated says reading stopped at a bound.
type softwareSource struct {
	name string
	read func(ctx context.Context, p *softwareProbe) (pkgs []SoftwarePackage, more int, truncated bool, err error)
}

// sources returns the package databases of the probe's platform.
func (p *softwareProbe) sources() []softwareSource {
	switch p.platform {
	case "linux":
		return []softwareSource{{"dpkg", readDpkg}, {"flatpak", readFlatpak}, {"rpm", readRPM}, {"snap", readSnaps}}
	case "windows":
		return []softwareSource{{"hotfix", readHotfixes}, {"windows", readWindowsPrograms}}
	case "darwin":
		return []softwareSource{{"app", readMacApps}, {"pkg", readMacReceipts}}
	}
	return nil
}

func (p *softwareProbe) Collect(ctx context.Context, env *Env) (any, error) {
	if env.Health {
		reboot, updates := p.pending(ctx)
		return &SoftwareHealth{Reboot: reboot, Updates: updates}, nil
	}
	srcs := p.sources()
	if len(srcs) == 0 {
		return nil, notAvailable("no package database known on %s", p.platform)
	}
	r := &SoftwareResult{Sources: []SoftwareSource{}, Packages: []SoftwarePackage{}}
	available := false
	for _, s := range srcs {
		pkgs, more, truncated, err := s.read(ctx, p)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		src := SoftwareSource{Name: s.name, Truncated: truncated}
		if err != nil {
			src.Error = cleanText(err.Error(), 512)
		}
		available = available || !errors.Is(err, ErrNotAvailable)
		pkgs = cleanPackages(s.name, pkgs)
		if len(pkgs) > maxSoftwarePackages {
			more += len(pkgs) - maxSoftwarePackages
			pkgs = pkgs[:maxSoftwarePackages]
		}
		src.Packages, src.LeftOff = len(pkgs), more
		r.Sources = append(r.Sources, src)
		r.Packages = append(r.Packages, pkgs...)
	}
	if !available {
		names := make([]string, len(srcs))
		for i, s := range srcs {
			names[i] = s.name
		}
		return nil, notAvailable("no package database found (%s)", strings.Join(names, ", "))
	}
	r.boundBytes()
	r.Reboot, r.Updates = p.pending(ctx)
	return r, nil
}

// pending reads whether a reboot and updates are pending, where the
// platform says so.
func (p *softwareProbe) pending(ctx context.Context) (*RebootState, *PendingUpdates) {
	switch p.platform {
	case "linux":
		return p.debianReboot(ctx), debianUpdates(ctx)
	case "windows":
		return windowsReboot(p.registry()), nil
	}
	return nil, nil
}

// cleanPackages makes a source's packages fit to send: strings capped and
// valid UTF-8, nameless ones dropped, sorted by name.
func cleanPackages(source string, pkgs []SoftwarePackage) []SoftwarePackage {
	out := pkgs[:0]
	for _, pk := range pkgs {
		pk.Source = source
		for _, s := range []*string{&pk.Name, &pk.Version, &pk.Arch, &pk.Publisher, &pk.ID, &pk.Revision, &pk.User, &pk.Status} {
			*s = cleanText(*s, maxSoftwareText)
		}
		if pk.Name != "" {
			out = append(out, pk)
		}
	}
	sort.Slice(out, func(i, j int) bool { // not slices.SortFunc: see sortUnits
		a, b := &out[i], &out[j]
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.User, b.User), cmp.Compare(a.ID, b.ID)) < 0
	})
	return out
}

// boundBytes cuts the list where its JSON would pass maxSoftwareBytes,
// counting what it leaves out in each source's left_off.
func (r *SoftwareResult) boundBytes() {
	size := 0
	for i := range r.Packages {
		pk := &r.Packages[i]
		size += 120 + len(pk.Source) + len(pk.Name) + len(pk.Version) + len(pk.Arch) + len(pk.Publisher) +
			len(pk.ID) + len(pk.Revision) + len(pk.User) + len(pk.Status)
		if size <= maxSoftwareBytes {
			continue
		}
		for _, cut := range r.Packages[i:] {
			for j := range r.Sources {
				if r.Sources[j].Name == cut.Source {
					r.Sources[j].Packages--
					r.Sources[j].LeftOff++
				}
			}
		}
		r.Packages, r.Truncated = r.Packages[:i], true
		return
	}
}

// unixOf returns t in Unix seconds, 0 for the zero time.
func unixOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// mtimeOf returns the modification time of the file at path in Unix
// seconds, 0 when it cannot be read.
func mtimeOf(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return unixOf(fi.ModTime())
}
