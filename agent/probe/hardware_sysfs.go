package probe

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v3/common"
)

// This file reads the hardware inventory from Linux's /sys: DMI, power
// supplies, USB devices and DRM cards. The parsers take an attrReader, so
// that fuzz tests feed them arbitrary attribute contents.

// attrReader returns a device attribute's text, and false when the
// attribute cannot be read.
type attrReader func(name string) (string, bool)

// readAttr reads one sysfs attribute, at most a few hundred bytes of it.
func readAttr(path string) (string, error) {
	var s string
	err := withProcFile(path, func(b []byte) error {
		s = string(b[:min(len(b), 4*maxHWText)])
		return nil
	})
	return s, err
}

// sysfsAttrs reads the attributes of the device folder dir.
func sysfsAttrs(dir string) attrReader {
	return func(name string) (string, bool) {
		s, err := readAttr(dir + "/" + name)
		return s, err == nil
	}
}

// text returns an attribute as clean text, "" when unreadable.
func (read attrReader) text(name string) string {
	s, _ := read(name)
	return cleanText(s, maxHWText)
}

// int returns an attribute as a decimal integer.
func (read attrReader) int(name string) (int64, bool) {
	s, ok := read(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil
}

// micro returns an attribute counted in millionths (µWh, µAh, µW) in
// thousandths, nil when absent or negative.
func (read attrReader) micro(name string) *uint64 {
	n, ok := read.int(name)
	if !ok || n < 0 {
		return nil
	}
	v := uint64(n) / 1000
	return &v
}

// sysfsHardware reads the inventory from /sys; with health, only power.
func (p *hardwareProbe) sysfsHardware(ctx context.Context, health bool) *HardwareResult {
	r := newHardwareResult()
	sysfsPower(ctx, r)
	if health {
		return r
	}
	p.sysfsDMI(ctx, r)
	sysfsUSB(ctx, r)
	sysfsGPUs(ctx, r)
	return r
}

// dmiTables is what the probe keeps of the DMI attributes: they change
// only with a firmware update, which takes a reboot.
type dmiTables struct {
	system      HardwareSystem
	bios        HardwareBIOS
	board       HardwareBoard
	unavailable map[string]string
}

// sysfsDMI reads the SMBIOS tables as the kernel exports them, once per
// probe. Serial numbers are readable by root only.
func (p *hardwareProbe) sysfsDMI(ctx context.Context, r *HardwareResult) {
	if p.dmi == nil {
		p.dmi = readDMI(Path(ctx, common.HostSysEnvKey, "class/dmi/id"))
	}
	r.System, r.BIOS, r.Board = p.dmi.system, p.dmi.bios, p.dmi.board
	maps.Copy(r.Unavailable, p.dmi.unavailable)
}

// readDMI reads the DMI attributes in dir, noting a serial number the
// agent may not read.
func readDMI(dir string) *dmiTables {
	t := &dmiTables{unavailable: map[string]string{}}
	if _, err := os.Stat(dir); err != nil {
		t.unavailable["dmi"] = notAvailable("no /sys/class/dmi/id (no SMBIOS tables)").Error()
		return t
	}
	serialDenied := false
	t.system, t.bios, t.board = dmiFrom(func(name string) (string, bool) {
		s, err := readAttr(dir + "/" + name)
		serialDenied = serialDenied || name == "product_serial" && errors.Is(err, fs.ErrPermission)
		return s, err == nil
	})
	if serialDenied {
		t.unavailable["serial"] = "product_serial is readable by root only"
	}
	return t
}

// dmiFrom takes the DMI attributes apart.
func dmiFrom(read attrReader) (HardwareSystem, HardwareBIOS, HardwareBoard) {
	s := HardwareSystem{
		Vendor: read.text("sys_vendor"), Model: read.text("product_name"),
		Version: read.text("product_version"), Family: read.text("product_family"),
		SKU: read.text("product_sku"), Serial: read.text("product_serial"),
	}
	if n, ok := read.int("chassis_type"); ok && n > 0 && n < 256 {
		s.ChassisTypeID = int(n)
		s.ChassisType = chassisName(int(n))
	}
	bios := HardwareBIOS{Vendor: read.text("bios_vendor"), Version: read.text("bios_version"), Date: read.text("bios_date")}
	board := HardwareBoard{Vendor: read.text("board_vendor"), Name: read.text("board_name"), Version: read.text("board_version")}
	return s, bios, board
}

// sysfsPower reads /sys/class/power_supply: the batteries and adapters.
func sysfsPower(ctx context.Context, r *HardwareResult) {
	dir := Path(ctx, common.HostSysEnvKey, "class/power_supply")
	for _, name := range dirNames(dir, maxPowerSupply) {
		addSupply(&r.Power, name, supplyAttrs(dir+"/"+name))
	}
	if len(r.Power.Batteries) == 0 {
		r.Unavailable["battery"] = notAvailable("no battery in /sys/class/power_supply").Error()
	}
}

// supplyAttrs reads a power supply's attributes from its uevent file, all
// of them in one read, or else one file each.
func supplyAttrs(dir string) attrReader {
	var props map[string]string
	err := withProcFile(dir+"/uevent", func(b []byte) error {
		props = parseSupplyUevent(b)
		return nil
	})
	if err != nil {
		return sysfsAttrs(dir)
	}
	// Kernels before 5.x leave the type out of the uevent.
	if _, ok := props["type"]; !ok {
		if t, err := readAttr(dir + "/type"); err == nil {
			props["type"] = t
		}
	}
	return func(name string) (string, bool) {
		v, ok := props[name]
		return v, ok
	}
}

// parseSupplyUevent reads POWER_SUPPLY_ENERGY_FULL=35340000 lines into
// attribute names and values ("energy_full"), at most 64 of them.
func parseSupplyUevent(b []byte) map[string]string {
	props := make(map[string]string, 24)
	for line := range bytes.Lines(b) {
		k, v, ok := bytes.Cut(bytes.TrimRight(line, "\n"), []byte{'='})
		name, prefixed := bytes.CutPrefix(k, []byte("POWER_SUPPLY_"))
		if !ok || !prefixed || len(props) == 64 {
			continue
		}
		props[strings.ToLower(string(name[:min(len(name), 64)]))] = string(v[:min(len(v), 4*maxHWText)])
	}
	return props
}

// addSupply adds the power supply name to p by its type.
func addSupply(p *HardwarePower, name string, read attrReader) {
	name = cleanText(name, maxHWText)
	typ := read.text("type")
	if typ != "Battery" {
		if typ == "" {
			return
		}
		online, ok := read.int("online")
		a := PowerAdapter{Name: name, Type: typ, Online: ok && online > 0}
		p.Adapters = append(p.Adapters, a)
		p.OnAC = new(a.Online || p.OnAC != nil && *p.OnAC)
		return
	}
	b := batteryFrom(name, read)
	if read.text("scope") == "Device" {
		p.Peripherals = append(p.Peripherals, b)
		return
	}
	p.Batteries = append(p.Batteries, b)
}

// batteryFrom reads a battery's power_supply attributes. The kernel counts
// energy in µWh and charge in µAh, by driver.
func batteryFrom(name string, read attrReader) Battery {
	b := Battery{
		Name: name, Status: read.text("status"), CapacityLevel: read.text("capacity_level"),
		Technology: read.text("technology"), Manufacturer: read.text("manufacturer"),
		Model: read.text("model_name"), Serial: read.text("serial_number"),
		EnergyNowMWh: read.micro("energy_now"), EnergyFullMWh: read.micro("energy_full"),
		EnergyDesignMWh: read.micro("energy_full_design"),
		ChargeNowMAh:    read.micro("charge_now"), ChargeFullMAh: read.micro("charge_full"),
		ChargeDesignMAh: read.micro("charge_full_design"),
	}
	if c := read.text("health"); c != "" && c != "Unknown" {
		b.Condition = c
	}
	if n, ok := read.int("present"); ok {
		b.Present = new(n != 0)
	}
	if n, ok := read.int("capacity"); ok && n >= 0 && n <= 100 {
		b.CapacityPercent = new(int(n))
	}
	// Drivers that do not count cycles say 0.
	if n, ok := read.int("cycle_count"); ok && n > 0 {
		b.CycleCount = new(uint64(n))
	}
	switch {
	case b.EnergyFullMWh != nil && b.EnergyDesignMWh != nil:
		b.HealthPercent = percentOf(*b.EnergyFullMWh, *b.EnergyDesignMWh)
	case b.ChargeFullMAh != nil && b.ChargeDesignMAh != nil:
		b.HealthPercent = percentOf(*b.ChargeFullMAh, *b.ChargeDesignMAh)
	}
	b.PowerMW, b.HoursToEmpty = batteryRate(read, b.Status)
	return b
}

// batteryRate returns the battery's charge or discharge rate in mW, and
// while discharging the hours left at that rate. Some drivers give power
// and energy, others current and charge; some sign the rate.
func batteryRate(read attrReader, status string) (*uint64, *float64) {
	abs := func(n int64) float64 { return math.Abs(float64(n)) }
	var rate, left float64 // W, Wh
	if p, ok := read.int("power_now"); ok {
		rate = abs(p) / 1e6
		if e, ok := read.int("energy_now"); ok && e >= 0 {
			left = float64(e) / 1e6
		}
	} else if c, ok := read.int("current_now"); ok {
		v, vok := read.int("voltage_now")
		if !vok || v <= 0 {
			return nil, nil
		}
		rate = abs(c) / 1e6 * float64(v) / 1e6
		if q, ok := read.int("charge_now"); ok && q >= 0 {
			left = float64(q) / 1e6 * float64(v) / 1e6
		}
	} else {
		return nil, nil
	}
	if rate > 1e6 { // a megawatt: not a battery
		return nil, nil
	}
	mw := new(uint64(math.Round(rate * 1000)))
	if status != "Discharging" || rate <= 0 || left <= 0 {
		return mw, nil
	}
	return mw, new(hundredths(left / rate))
}

// percentOf returns part as a percentage of whole, nil when whole is 0 or
// the ratio is absurd (a battery at ten times its design capacity).
func percentOf(part, whole uint64) *float64 {
	if whole == 0 || part > 10*whole {
		return nil
	}
	return new(hundredths(float64(part) / float64(whole) * 100))
}

// sysfsUSB lists the USB devices but hubs, ordered by port.
func sysfsUSB(ctx context.Context, r *HardwareResult) {
	dir := Path(ctx, common.HostSysEnvKey, "bus/usb/devices")
	ents, err := os.ReadDir(dir)
	if err != nil {
		r.Unavailable["usb"] = notAvailable("no /sys/bus/usb/devices").Error()
		return
	}
	for _, e := range ents {
		// Interfaces ("1-2:1.0") repeat their device.
		if strings.Contains(e.Name(), ":") {
			continue
		}
		d, ok := usbFrom(e.Name(), sysfsAttrs(dir+"/"+e.Name()))
		if !ok {
			continue
		}
		if len(r.USB) == maxUSBDevices {
			r.USBLeftOff++
			continue
		}
		r.USB = append(r.USB, d)
	}
}

// usbFrom reads one USB device; false for hubs (class 09), root hubs
// included, and entries without a vendor.
func usbFrom(port string, read attrReader) (USBDevice, bool) {
	if read.text("bDeviceClass") == "09" {
		return USBDevice{}, false
	}
	d := USBDevice{
		Port: cleanText(port, maxHWText), VendorID: read.text("idVendor"), ProductID: read.text("idProduct"),
		Manufacturer: read.text("manufacturer"), Product: read.text("product"),
	}
	if d.VendorID == "" {
		return USBDevice{}, false
	}
	if s, err := strconv.ParseFloat(read.text("speed"), 64); err == nil && s > 0 && s < 1e6 {
		d.SpeedMbps = s
	}
	return d, true
}

// sysfsGPUs lists the DRM cards (card0, not its connectors card0-eDP-1).
func sysfsGPUs(ctx context.Context, r *HardwareResult) {
	dir := Path(ctx, common.HostSysEnvKey, "class/drm")
	for _, card := range dirNames(dir, 256) {
		if _, err := strconv.Atoi(strings.TrimPrefix(card, "card")); !strings.HasPrefix(card, "card") || err != nil {
			continue
		}
		if len(r.GPUs) == maxGPUs {
			break
		}
		dev := dir + "/" + card + "/device"
		driver, _ := os.Readlink(dev + "/driver")
		slot, _ := os.Readlink(dev)
		r.GPUs = append(r.GPUs, gpuFrom(card, filepath.Base(slot), filepath.Base(driver), sysfsAttrs(dev)))
	}
	if len(r.GPUs) == 0 {
		r.Unavailable["gpu"] = notAvailable("no graphics card in /sys/class/drm").Error()
	}
}

// gpuFrom reads a DRM card's PCI device.
func gpuFrom(card, slot, driver string, read attrReader) GPU {
	g := GPU{
		Card: cleanText(card, maxHWText), VendorID: pciID(read.text("vendor")), DeviceID: pciID(read.text("device")),
		BootVGA: read.text("boot_vga") == "1",
	}
	if slot != "." && slot != "/" {
		g.PCISlot = cleanText(slot, maxHWText)
	}
	if driver != "." && driver != "/" {
		g.Driver = cleanText(driver, maxHWText)
	}
	g.Vendor = pciVendors[g.VendorID]
	return g
}

// pciID turns sysfs's "0x8086" into "8086".
func pciID(s string) string { return strings.ToLower(strings.TrimPrefix(s, "0x")) }

// dirNames returns the sorted names in dir, at most limit of them.
func dirNames(dir string, limit int) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, 0, min(len(ents), limit))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names[:min(len(names), limit)]
}
