// Package version holds the build's version, set by the linker:
// -ldflags "-X github.com/sondehq/sonde/internal/version.Version=v1.2.3".
package version

import "runtime/debug"

// Version is the release version, or "dev".
var Version = "dev"

// Revision returns the VCS revision the binary was built from, if known.
func Revision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
