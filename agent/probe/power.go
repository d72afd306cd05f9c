package probe

import "context"

// PowerSource is what the agent's battery rule needs of the machine's
// power: whether it runs on its battery, and how charged that is.
type PowerSource struct {
	// Known is false where the agent cannot tell cheaply: macOS (IOKit
	// needs cgo), a battery that reports no charge, or a failed read.
	Known bool
	// OnBattery says the batteries that power the machine are
	// discharging and no adapter is online.
	OnBattery bool
	// Percent is the mean charge of those batteries, when OnBattery.
	Percent int
}

// ReadPowerSource reads the machine's power source with the hardware
// probe's readers: /sys/class/power_supply on Linux (under ctx's root, see
// WithRoot), GetSystemPowerStatus on Windows; elsewhere it is not known.
// It reads a few small files, or makes one system call.
func ReadPowerSource(ctx context.Context) PowerSource {
	p, ok := newHardware().(*hardwareProbe)
	if !ok {
		return PowerSource{}
	}
	r := newHardwareResult()
	switch p.goos {
	case "linux":
		sysfsPower(ctx, r)
	case "windows":
		st, err := p.powerStatus()
		if err != nil {
			return PowerSource{}
		}
		powerFromStatus(st, r)
	default:
		return PowerSource{}
	}
	return powerSourceOf(&r.Power)
}

// powerSourceOf decides from the hardware probe's power section: an
// adapter online, or no battery discharging, is mains power (a desktop has
// no battery at all); peripherals' batteries (a mouse's) do not count.
func powerSourceOf(p *HardwarePower) PowerSource {
	if p.OnAC != nil && *p.OnAC {
		return PowerSource{Known: true}
	}
	discharging := false
	sum, n := 0, 0
	for _, b := range p.Batteries {
		discharging = discharging || b.Status == "Discharging"
		if b.CapacityPercent != nil {
			sum += *b.CapacityPercent
			n++
		}
	}
	switch {
	case !discharging:
		return PowerSource{Known: true}
	case n == 0:
		return PowerSource{OnBattery: true} // charge not known: nothing is held back
	}
	return PowerSource{Known: true, OnBattery: true, Percent: sum / n}
}
