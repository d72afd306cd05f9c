package windows

import (
	"fmt"
	"strconv"
	"strings"
)

// productVersion turns a release version into Windows Installer's
// ProductVersion, MAJOR.MINOR.BUILD (at most 255.255.65535) whose three
// fields are all that upgrades compare: "0.4.0" stays, a pre-release
// "0.5.0-rc.1" is "0.5.0", and a build between tags
// "0.4.0~dev.12.g1a2b3c4" is "0.4.0.12", which Windows Installer takes as
// 0.4.0: such builds replace each other, and the release, in place (see
// upgradeTable).
func productVersion(release string) (string, error) {
	base, dev, isDev := strings.Cut(release, "~dev.")
	if i := strings.IndexAny(base, "-+"); i >= 0 {
		base = base[:i]
	}
	fields := strings.Split(base, ".")
	if len(fields) != 3 {
		return "", fmt.Errorf("version %q: want MAJOR.MINOR.PATCH", release)
	}
	for i, limit := range []int{255, 255, 65535} {
		n, err := strconv.Atoi(fields[i])
		if err != nil || n < 0 || n > limit || strconv.Itoa(n) != fields[i] {
			return "", fmt.Errorf("version %q: an MSI takes MAJOR and MINOR up to 255 and PATCH up to 65535", release)
		}
	}
	if !isDev {
		return base, nil
	}
	n, _, _ := strings.Cut(dev, ".")
	if c, err := strconv.Atoi(n); err != nil || c < 0 || c > 65535 {
		return "", fmt.Errorf("version %q: want ~dev.N with N up to 65535", release)
	}
	return base + "." + n, nil
}
