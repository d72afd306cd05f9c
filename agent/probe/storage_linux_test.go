package probe

import (
	"errors"
	"io/fs"
	"testing"
	"unsafe"
)

// TestNVMeLogCommand checks the admin command against the kernel's ABI:
// struct nvme_passthru_cmd is 72 bytes, and Get Log Page for the health
// log asks for 128 dwords of log 02h of every namespace.
func TestNVMeLogCommand(t *testing.T) {
	if n := unsafe.Sizeof(nvmePassthru{}); n != 72 {
		t.Errorf("nvme_passthru_cmd is %d bytes, want 72", n)
	}
	if off := unsafe.Offsetof(nvmePassthru{}.cdw10); off != 40 {
		t.Errorf("cdw10 at %d, want 40", off)
	}
	if req := uint32(3<<30 | 72<<16 | 'N'<<8 | 0x41); req != nvmeIoctlAdminCmd {
		t.Errorf("NVME_IOCTL_ADMIN_CMD %#x, want %#x", nvmeIoctlAdminCmd, req)
	}
	c := nvmeLogCommand(0x1000)
	if c.opcode != 0x02 || c.nsid != 0xffffffff || c.cdw10 != 0x007f0002 || c.dataLen != 512 || c.addr != 0x1000 {
		t.Errorf("command %+v", c)
	}
	if _, err := nvmeSmartLog("/nonexistent/nvme0"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing device: %v", err)
	}
}
