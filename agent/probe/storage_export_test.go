package probe

import "context"

// StorageFakes replaces the storage-health probe's ioctl and tools.
type StorageFakes struct {
	GOOS     string
	SmartLog func(dev string) ([]byte, error)
	Tool     func(ctx context.Context, limit int, name string, args ...string) ([]byte, bool, error)
}

// NewTestStorage returns a storage-health probe that reads the sources of
// f.GOOS, asking f for the NVMe log and the tools.
func NewTestStorage(f StorageFakes) Probe {
	return &storageProbe{goos: f.GOOS, smartLog: f.SmartLog, tool: f.Tool}
}
