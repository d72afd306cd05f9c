package probe

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nvmePassthru is the kernel's struct nvme_passthru_cmd (linux/nvme_ioctl.h).
type nvmePassthru struct {
	opcode      uint8
	flags       uint8
	rsvd1       uint16
	nsid        uint32
	cdw2, cdw3  uint32
	metadata    uint64
	addr        uint64
	metadataLen uint32
	dataLen     uint32
	cdw10       uint32
	cdw11       uint32
	cdw12       uint32
	cdw13       uint32
	cdw14       uint32
	cdw15       uint32
	timeoutMs   uint32
	result      uint32
}

// NVMe admin command constants.
const (
	// nvmeIoctlAdminCmd is NVME_IOCTL_ADMIN_CMD: _IOWR('N', 0x41, struct
	// nvme_passthru_cmd), 72 bytes.
	nvmeIoctlAdminCmd = 0xC0484E41
	nvmeGetLogPage    = 0x02
	nvmeLogSMART      = 0x02
	nvmeNSIDAll       = 0xffffffff
)

// nvmeSmartLog reads the SMART / Health Information log page of the NVMe
// controller device dev with Get Log Page: a read-only admin command, the
// one smartctl and nvme-cli send.
func nvmeSmartLog(dev string) ([]byte, error) {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dev, err)
	}
	defer unix.Close(fd)
	buf := make([]byte, nvmeLogSize)
	cmd := nvmeLogCommand(uint64(uintptr(unsafe.Pointer(&buf[0]))))
	status, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), nvmeIoctlAdminCmd, uintptr(unsafe.Pointer(&cmd)))
	runtime.KeepAlive(buf)
	if errno != 0 {
		return nil, fmt.Errorf("NVMe Get Log Page on %s: %w", dev, errno)
	}
	if status != 0 {
		return nil, fmt.Errorf("NVMe Get Log Page on %s: controller status %#x", dev, status)
	}
	return buf, nil
}

// nvmeLogCommand is Get Log Page for the whole controller's health log
// into the 512 bytes at addr: cdw10 holds the number of dwords less one
// (bits 31:16) and the log identifier.
func nvmeLogCommand(addr uint64) nvmePassthru {
	return nvmePassthru{
		opcode: nvmeGetLogPage, nsid: nvmeNSIDAll, addr: addr, dataLen: nvmeLogSize,
		cdw10: (nvmeLogSize/4-1)<<16 | nvmeLogSMART,
	}
}
