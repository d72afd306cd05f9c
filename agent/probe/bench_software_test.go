package probe_test

import "testing"

// BenchmarkProbeSoftware measures one software probe run on the real
// host: on Debian, dpkg's status file and logs parsed, file-list mtimes
// for packages the logs do not date, and the reboot and update flags
// (health: the flags alone). Where rpm is installed it includes running it.
func BenchmarkProbeSoftware(b *testing.B) { benchProbe(b, "software") }
