package diff

import "testing"

// TestFolderChangeScalesWithSmallFileSystems: on a 64 MiB tmpfs a folder
// growing by 11 MiB is a change; on a large disk, or one of unknown size,
// it is churn.
func TestFolderChangeScalesWithSmallFileSystems(t *testing.T) {
	const mib = 1 << 20
	if !notableChange(40*mib, 51*mib, 64*mib) || !notableChange(51*mib, 40*mib, 64*mib) {
		t.Error("11 MiB on a 64 MiB file system is not a change")
	}
	if notableChange(40*mib, 51*mib, 0) || notableChange(40*mib, 51*mib, 500<<30) {
		t.Error("11 MiB on a large disk is a change")
	}
	if notableChange(40*mib, 42*mib, 64*mib) {
		t.Error("2 MiB, under a tenth of the folder, is a change")
	}
}
