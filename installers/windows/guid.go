package windows

import (
	"crypto/sha1"
	"fmt"
	"strings"
)

// namespace is the name space of every GUID the MSI derives (RFC 9562
// version 5), so that two builds of one version give the same GUIDs and
// no other product's can collide with them.
var namespace = [16]byte{0xb2, 0x25, 0xff, 0xe2, 0x0c, 0x2a, 0x48, 0x77, 0x88, 0xcd, 0x22, 0xd3, 0x7a, 0xda, 0x2f, 0x85}

// upgradeCode makes every version of the agent's MSI one product line,
// so that each replaces the one installed before: it must never change.
// It is guid("sonde-agent", "upgrade-code").
const upgradeCode = "{5340C833-038F-5C93-A819-9E620F95138E}"

// guid derives a GUID from parts, in braces and upper case as Windows
// Installer writes them: a name-based UUID (version 5, SHA-1) in
// namespace of the parts joined by "/".
func guid(parts ...string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(strings.Join(parts, "/")))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return strings.ToUpper(fmt.Sprintf("{%x-%x-%x-%x-%x}", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}
