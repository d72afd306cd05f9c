package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
)

// rpmQueryFormat asks rpm for one line per package: name, version with
// the epoch when there is one (as dpkg writes it), architecture and
// install time in Unix seconds, separated by tabs. rpm prints "(none)"
// for a tag a package lacks (gpg-pubkey has no architecture).
const rpmQueryFormat = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\n"

// maxRPMOutput bounds what rpm may print: about 60 bytes a package.
const maxRPMOutput = 4 << 20

// readRPM lists the packages in the rpm database. The database is SQLite
// or Berkeley DB, which the agent does not link, so it asks rpm itself,
// with fixed arguments.
func readRPM(ctx context.Context, p *softwareProbe) ([]SoftwarePackage, int, bool, error) {
	out, truncated, err := p.tool(ctx, maxRPMOutput, "rpm", "-qa", "--queryformat", rpmQueryFormat)
	if errors.Is(err, ErrNotAvailable) {
		return nil, 0, false, err // "not available here: rpm is not installed"
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("listing rpm packages: %w", err)
	}
	pkgs, more := parseRPM(out, maxSoftwareFound)
	return pkgs, more, truncated || more > 0, nil
}

// parseRPM parses rpm's answer to rpmQueryFormat, at most limit packages,
// and counts the lines beyond. Lines without the four fields are skipped,
// and so is a last line without its newline: the output bound cut it.
func parseRPM(b []byte, limit int) (pkgs []SoftwarePackage, more int) {
	for {
		line, rest, complete := bytes.Cut(b, []byte{'\n'})
		if !complete {
			return pkgs, more
		}
		b = rest
		f := bytes.Split(bytes.TrimSuffix(line, []byte{'\r'}), []byte{'\t'})
		if len(f) != 4 || len(f[0]) == 0 {
			continue
		}
		if len(pkgs) == limit {
			more++
			continue
		}
		pk := SoftwarePackage{Name: string(f[0]), Version: string(f[1]), Arch: rpmTag(f[2])}
		if t, err := strconv.ParseInt(string(f[3]), 10, 64); err == nil && t > 0 {
			pk.InstalledAt = t
		}
		pkgs = append(pkgs, pk)
	}
}

// rpmTag is a tag's value, empty for rpm's "(none)".
func rpmTag(b []byte) string {
	if string(b) == "(none)" {
		return ""
	}
	return string(b)
}
