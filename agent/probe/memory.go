package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/shirou/gopsutil/v3/common"
	"github.com/shirou/gopsutil/v3/mem"
)

func init() {
	Register("memory", Spec{Platforms: Everywhere}, func() Probe {
		return &memoryProbe{pageSize: uint64(os.Getpagesize()), linux: runtime.GOOS == "linux"}
	})
}

// memoryProbe reports memory and swap use and memory pressure.
type memoryProbe struct {
	// pageSize converts /proc/vmstat's page counts to bytes.
	pageSize uint64
	// linux says whether swap comes from /proc (meminfo and vmstat) rather
	// than from the operating system's own calls.
	linux bool
}

// MemoryResult is the memory probe's full result. Used is what is not
// available (total minus available), the figure that matters when a
// machine runs short; the kernel's free memory is given apart.
type MemoryResult struct {
	TotalBytes     uint64        `json:"total_bytes"`
	AvailableBytes uint64        `json:"available_bytes"`
	UsedBytes      uint64        `json:"used_bytes"`
	UsedRatio      float64       `json:"used_ratio"`
	FreeBytes      uint64        `json:"free_bytes"`
	CachedBytes    uint64        `json:"cached_bytes"`
	BuffersBytes   uint64        `json:"buffers_bytes"`
	Swap           MemorySwap    `json:"swap"`
	Pressure       *PressureStat `json:"pressure,omitempty"`
	Errors         []string      `json:"errors,omitempty"`
}

// MemorySwap is swap space and the traffic to it since boot.
type MemorySwap struct {
	TotalBytes uint64 `json:"total_bytes"`
	UsedBytes  uint64 `json:"used_bytes"`
	FreeBytes  uint64 `json:"free_bytes"`
	InBytes    uint64 `json:"in_bytes"`
	OutBytes   uint64 `json:"out_bytes"`
}

// MemoryHealth is the memory probe's light result.
type MemoryHealth struct {
	UsedRatio      float64 `json:"used_ratio"`
	AvailableBytes uint64  `json:"available_bytes"`
	SwapUsedBytes  uint64  `json:"swap_used_bytes"`
	// PressureSomeAvg10 is absent when the kernel has no PSI.
	PressureSomeAvg10 *float64 `json:"pressure_some_avg10,omitempty"`
}

func (p *memoryProbe) Name() string { return "memory" }

func (p *memoryProbe) Collect(ctx context.Context, env *Env) (any, error) {
	if runtime.GOOS == "darwin" {
		// gopsutil runs vm_stat(1) there when built without cgo, and the
		// agent never forks.
		return nil, errors.New("memory is not read on macOS: gopsutil would run vm_stat(1)")
	}
	if env.Health {
		return p.health(ctx)
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading meminfo: %w", err)
	}
	if vm.Total == 0 {
		return nil, fmt.Errorf("reading meminfo: no MemTotal")
	}
	used := vm.Total - min(vm.Available, vm.Total)
	r := &MemoryResult{
		TotalBytes:     vm.Total,
		AvailableBytes: vm.Available,
		UsedBytes:      used,
		UsedRatio:      shareOf(used, vm.Total),
		FreeBytes:      vm.Free,
		CachedBytes:    vm.Cached,
		BuffersBytes:   vm.Buffers,
	}
	if r.Pressure, err = readPressure(ctx, "memory"); err != nil {
		r.Errors = append(r.Errors, err.Error())
	}
	if err := p.swap(ctx, vm, &r.Swap); err != nil {
		r.Errors = append(r.Errors, err.Error())
	}
	return r, nil
}

// health reads four lines of /proc/meminfo in place on Linux; gopsutil
// parses all fifty, with several allocations each. Kernels before 3.14,
// without MemAvailable, and other systems go through gopsutil.
func (p *memoryProbe) health(ctx context.Context) (*MemoryHealth, error) {
	var total, avail, swapTotal, swapFree uint64
	fast := false
	if p.linux {
		_ = withProcFile(Path(ctx, common.HostProcEnvKey, "meminfo"), func(b []byte) error {
			total, _ = lineUint(b, "MemTotal:")
			avail, fast = lineUint(b, "MemAvailable:")
			swapTotal, _ = lineUint(b, "SwapTotal:")
			swapFree, _ = lineUint(b, "SwapFree:")
			total, avail, swapTotal, swapFree = total<<10, avail<<10, swapTotal<<10, swapFree<<10
			return nil
		})
	}
	if !fast || total == 0 {
		vm, err := mem.VirtualMemoryWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading meminfo: %w", err)
		}
		total, avail, swapTotal, swapFree = vm.Total, vm.Available, vm.SwapTotal, vm.SwapFree
		if !p.linux {
			if sw, err := mem.SwapMemoryWithContext(ctx); err == nil {
				swapTotal, swapFree = sw.Total, sw.Free
			}
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("reading meminfo: no MemTotal")
	}
	h := &MemoryHealth{
		UsedRatio:      shareOf(total-min(avail, total), total),
		AvailableBytes: avail,
		SwapUsedBytes:  swapTotal - min(swapFree, swapTotal),
	}
	// Pressure is optional here; the full variant reports why it is missing.
	if pressure, _ := readPressure(ctx, "memory"); pressure != nil && pressure.Some != nil {
		h.PressureSomeAvg10 = &pressure.Some.Avg10
	}
	return h, nil
}

// swap fills s. On Linux the totals come from meminfo, already read, and
// the traffic from /proc/vmstat; gopsutil's SwapMemory would ask sysinfo(2)
// for the totals, which a fixture cannot fake.
func (p *memoryProbe) swap(ctx context.Context, vm *mem.VirtualMemoryStat, s *MemorySwap) error {
	if !p.linux {
		sw, err := mem.SwapMemoryWithContext(ctx)
		if err != nil {
			return fmt.Errorf("reading swap: %w", err)
		}
		*s = MemorySwap{TotalBytes: sw.Total, UsedBytes: sw.Used, FreeBytes: sw.Free, InBytes: sw.Sin, OutBytes: sw.Sout}
		return nil
	}
	s.TotalBytes, s.FreeBytes = vm.SwapTotal, min(vm.SwapFree, vm.SwapTotal)
	s.UsedBytes = s.TotalBytes - s.FreeBytes
	err := withProcFile(Path(ctx, common.HostProcEnvKey, "vmstat"), func(b []byte) error {
		in, _ := lineUint(b, "pswpin")
		out, _ := lineUint(b, "pswpout")
		s.InBytes, s.OutBytes = in*p.pageSize, out*p.pageSize
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading vmstat: %w", err)
	}
	return nil
}
