package findings

import "time"

// Thresholds of the analyzers, in one place. A finding fires at or beyond
// its threshold; ratios are shares between 0 and 1.
const (
	// DiskFullWarning and DiskFullCritical are the used shares of a file
	// system, counted as df does (used over used plus what users may
	// fill), at which disk.almost-full is a warning and critical.
	DiskFullWarning  = 0.90
	DiskFullCritical = 0.95
	// InodesFullWarning and InodesFullCritical are the same for inodes
	// (disk.inodes-almost-full): a disk out of inodes takes no new file
	// however much space it has.
	InodesFullWarning  = 0.90
	InodesFullCritical = 0.95

	// DiskFillHorizon: disk.filling-fast fires when the growth seen since
	// the oldest snapshot within DiskGrowthWindow, if it went on, would
	// fill the file system within this time. The growth must span at least
	// DiskGrowthMinSpan and DiskGrowthMinRatio of the disk, so that noise
	// between two close snapshots raises nothing.
	DiskFillHorizon    = 24 * time.Hour
	DiskGrowthWindow   = 24 * time.Hour
	DiskGrowthMinSpan  = 30 * time.Minute
	DiskGrowthMinRatio = 0.01

	// DiskUsageGrowthMin and DiskUsageGrowthShare: disk.almost-full names
	// a folder that grew since an earlier walk of the disk (the disk-usage
	// probe) when it grew by this many bytes and this share of its earlier
	// size; smaller changes are churn. sonde diff uses the same rule.
	DiskUsageGrowthMin   = 100 << 20
	DiskUsageGrowthShare = 0.10
	// DiskUsageGrowthFSShare lowers DiskUsageGrowthMin for a small file
	// system (a 64 MiB tmpfs): growth by this share of its size counts.
	DiskUsageGrowthFSShare = 0.05

	// MemoryUsedWarning and MemoryUsedCritical are the shares of memory
	// in use (total minus available) at which memory.pressure fires.
	MemoryUsedWarning  = 0.95
	MemoryUsedCritical = 0.98
	// MemoryStallWarning is the share of time, in percent, in which some
	// task waited for memory (Linux PSI "some", over 60 s in a full
	// snapshot, 10 s in a health one) at which memory.pressure fires.
	MemoryStallWarning = 20.0
	// SwapHeavyRatio: memory.swap-heavy fires when the swap in use reaches
	// this share of the machine's memory.
	SwapHeavyRatio = 0.25

	// CrashLoopRestarts: a failed service that systemd restarted this
	// many times (NRestarts) is service.crash-looping rather than
	// service.failed.
	CrashLoopRestarts = 3
	// CrashLoopFailures: so is a failed service seen to fail anew (failed
	// after a snapshot in which it was not) this many times across the
	// current snapshot and its history.
	CrashLoopFailures = 3

	// InterfaceMinPackets is the traffic in one direction below which an
	// interface's error counters are not judged. InterfaceErrorRatio and
	// InterfaceDropRatio are the shares of packets in error, or dropped,
	// since boot at which network.interface-errors fires; drops get more
	// room because kernels count benign ones (unknown protocols).
	InterfaceMinPackets = 10_000
	InterfaceErrorRatio = 0.01
	InterfaceDropRatio  = 0.05

	// CollectorSlowHandshake is the time of a fresh handshake with the
	// collector at which collector.high-latency fires, and CollectorSlowRTT
	// the smoothed round trip of the agent's live connection at which it
	// fires: a QUIC handshake takes one round trip, TCP and TLS two, so a
	// round trip of half a second makes handshakes of one second or more.
	CollectorSlowHandshake = time.Second
	CollectorSlowRTT       = 500 * time.Millisecond

	// ClockSkewWarning and ClockSkewCritical are the offsets from the
	// collector's clock, less half the round trip of their measurement, at
	// which time.clock-skew is a warning and critical (Kerberos refuses
	// tickets beyond 5 minutes).
	ClockSkewWarning  = 2 * time.Second
	ClockSkewCritical = 5 * time.Minute

	// CPUHogPercent is the CPU use of one process, in percent of one CPU
	// as top shows it, at which process.cpu-hog may fire; it does when
	// the process also takes CPUHogShare of the CPU time used on the
	// machine (of the machine's capacity when its use is unknown).
	CPUHogPercent = 90.0
	CPUHogShare   = 0.5

	// RunawayPercent is the CPU use of one process, in percent of one CPU,
	// that process.runaway looks for in every sample of a run, on a machine
	// of two cores or more: a loop holds its core whatever the rest of the
	// machine does, so the machine's own use does not count. The run must
	// last RunawayMinSpan (the SingleCoreRunaway alert's "for"), its samples
	// at most RunawayMaxGap apart (or as far as a sample's window reaches
	// back).
	RunawayPercent = 90.0
	RunawayMinSpan = 10 * time.Minute
	RunawayMaxGap  = 5 * time.Minute

	// BatteryWornWarning and BatteryWornCritical are the shares of its
	// design capacity a battery still holds (full charge over design) at
	// or below which hardware.battery-worn is a warning and critical.
	BatteryWornWarning  = 0.70
	BatteryWornCritical = 0.50

	// DiskWearWarning and DiskWearCritical are an SSD's "percentage used"
	// of its rated endurance (NVMe log page 2) at which storage.worn-out is
	// a warning and critical.
	DiskWearWarning  = 90.0
	DiskWearCritical = 100.0

	// RebootPendingWarning: system.reboot-pending is a warning once a
	// restart has been pending this long (the software probe says since
	// when): security updates are installed but not running.
	RebootPendingWarning = 3 * 24 * time.Hour

	// OOMKillsCritical: logs.oom-kills is critical once the kernel killed
	// this many programs for memory within the logs probe's window (a day);
	// fewer are a warning. A program that crashed CrashLoopFailures times
	// in that window is logs.crash-loop rather than logs.crashed.
	OOMKillsCritical = 3

	// WifiWeakWarning and WifiWeakCritical are the signal strengths, in
	// dBm, at or below which wifi.weak-signal is a warning and critical:
	// below -75 dBm calls and video break up, below -85 little gets
	// through.
	WifiWeakWarning  = -75.0
	WifiWeakCritical = -85.0

	// EphemeralPortStart is where Linux's default range of ports handed
	// out on demand begins (Windows's begins higher, at 49152): a program
	// listening from there up is judged by network.listener-stopped only
	// once it had the port in two network snapshots in a row.
	EphemeralPortStart = 32768
)

// Bounds on untrusted input.
const (
	// maxPerAnalyzer bounds the findings of one analyzer: a snapshot with
	// ten thousand failed units gives the worst fifty.
	maxPerAnalyzer = 50
	// maxHistory bounds the older snapshots looked at.
	maxHistory = 200
	// maxTextLen bounds a string from the snapshot carried into a finding.
	maxTextLen = 256
	// maxProgramName bounds a program's name in a title.
	maxProgramName = 64
)
