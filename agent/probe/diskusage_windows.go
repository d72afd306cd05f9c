package probe

import (
	"io/fs"

	"golang.org/x/sys/windows"
)

// fileSizeKind: Windows reports a file's length; what it takes on the
// volume would cost a call per file (GetCompressedFileSize).
const fileSizeKind = "apparent"

func fileSize(fi fs.FileInfo) uint64 {
	if fi.Mode().IsRegular() && fi.Size() > 0 {
		return uint64(fi.Size())
	}
	return 0
}

// fileDevice says nothing on Windows: another volume is mounted only at a
// reparse point (a volume mount point), which Lstat does not report as a
// folder, so the walk never enters it.
func fileDevice(string, fs.FileInfo) (uint64, bool) { return 0, false }

// remoteVolume says whether a drive ("Z:") is a network drive.
func remoteVolume(mountpoint string) bool {
	p, err := windows.UTF16PtrFromString(walkRoot(mountpoint))
	if err != nil {
		return false
	}
	return windows.GetDriveType(p) == windows.DRIVE_REMOTE
}
