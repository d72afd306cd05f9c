package windows

import (
	"regexp"
	"testing"
)

// TestGUID: the derivation is RFC 9562's version 5 (Python's
// uuid.uuid5(namespace, "sonde-agent/upgrade-code") gives the same), and
// the upgrade code, which must never change, is still that one.
func TestGUID(t *testing.T) {
	if got := guid("sonde-agent", "upgrade-code"); got != upgradeCode || upgradeCode != "{5340C833-038F-5C93-A819-9E620F95138E}" {
		t.Errorf("upgrade code %s, derived %s", upgradeCode, got)
	}
	form := regexp.MustCompile(`^\{[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}\}$`)
	seen := map[string]bool{}
	for _, parts := range [][]string{{"product", "0.4.0"}, {"product", "0.4.1"}, {"component", "Agent"}, {"component", "Enroll"}, {"product/0.4.0"}} {
		g := guid(parts...)
		if !form.MatchString(g) {
			t.Errorf("%q: %s is not a version 5 GUID in braces", parts, g)
		}
		if g != guid(parts...) {
			t.Errorf("%q: not deterministic", parts)
		}
		seen[g] = true
	}
	if len(seen) != 4 { // product/0.4.0 joins like {product, 0.4.0}
		t.Errorf("%d distinct GUIDs of 5 names, want 4", len(seen))
	}
}
