package probe_test

import (
	"path/filepath"
	"testing"
)

// The storage-health benchmarks measure the probe's own work over
// recorded output (the fakes read it from testdata on each call): the
// ioctl and the tools cost what the kernel and the tool cost.

func BenchmarkStorageHealthProbeFixtureLaptopNVMe(b *testing.B) {
	benchStorage(b, "laptop")
}

func BenchmarkStorageHealthProbeFixtureServerSmartctl(b *testing.B) {
	benchStorage(b, "server")
}

func BenchmarkStorageHealthProbeFixtureWindows(b *testing.B) {
	benchStorage(b, "windows-laptop")
}

func BenchmarkStorageHealthProbeFixtureMac(b *testing.B) {
	benchStorage(b, "macbook")
}

func benchStorage(b *testing.B, name string) {
	dir := filepath.Join("testdata", "storage-health", name)
	benchFixture(b, newStorageFixture(dir).probe, dir)
}
