package alert

// catalogue is every field an expression may use, by selector. A field
// not here is rejected when the rules load.
var catalogue = map[string]*field{}

func init() {
	for _, f := range []*field{
		{name: "agent.online", help: "1 while the agent is connected, else 0", agent: agentOnline},
		{name: "agent.offline_seconds", help: "seconds since the agent was last seen; 0 while connected", agent: offlineSeconds},

		{name: "fault.recent", help: "1 for each trigger of a snapshot the agent took at a fault (collector-unreachable, no-default-route, no-dns-resolvers, service-failed) in the last 15 minutes", labels: []string{"trigger"}, agent: recentFaults},

		{name: "cpu.usage_percent", help: "CPU use over the last health interval, percent of all CPUs", doc: cpuUsage},
		{name: "cpu.load1", help: "load average over 1 minute", doc: scalar("cpu", func(d *cpuData) *float64 { return d.Load1 })},
		{name: "cpu.load5", help: "load average over 5 minutes", doc: scalar("cpu", func(d *cpuData) *float64 { return d.Load5 })},
		{name: "cpu.load15", help: "load average over 15 minutes", doc: scalar("cpu", func(d *cpuData) *float64 { return d.Load15 })},
		{name: "cpu.cores", help: "logical CPUs of the machine (cores, hyperthreads counted), from the agent's facts", agent: cpuCores},

		{name: "process.top_core_percent", help: "CPU use of the busiest process over the last health interval, percent of one core (100 is one core held throughout)",
			labels: []string{"pid", "process", "cmdline", "started"}, doc: topProcess},

		{name: "memory.used_ratio", help: "share of memory in use (total minus available), 0 to 1", doc: scalar("memory", func(d *memoryData) *float64 { return d.UsedRatio })},
		{name: "memory.available_bytes", help: "memory available to new work, bytes", doc: scalar("memory", func(d *memoryData) *float64 { return d.AvailableBytes })},
		{name: "memory.swap_used_bytes", help: "swap in use, bytes", doc: scalar("memory", func(d *memoryData) *float64 { return d.SwapUsedBytes })},
		{name: "memory.pressure_some_avg10", help: "percent of time some task waited for memory over 10 s (Linux PSI)", doc: scalar("memory", func(d *memoryData) *float64 { return d.PressureSomeAvg10 })},

		{name: "disk.used_ratio", help: "share of a file system in use, 0 to 1", labels: []string{"mountpoint"},
			doc: mounts(func(used, _ *float64) *float64 { return used })},
		{name: "disk.inodes_used_ratio", help: "share of a file system's inodes in use, 0 to 1", labels: []string{"mountpoint"},
			doc: mounts(func(_, inodes *float64) *float64 { return inodes })},

		{name: "network.errors", help: "receive and transmit errors of an interface since boot", labels: []string{"interface"}, counter: true,
			doc: interfaces(func(_, _, errs, _ *float64) *float64 { return errs })},
		{name: "network.drops", help: "receive and transmit drops of an interface since boot", labels: []string{"interface"}, counter: true,
			doc: interfaces(func(_, _, _, drops *float64) *float64 { return drops })},
		{name: "network.rx_bytes", help: "bytes received by an interface since boot", labels: []string{"interface"}, counter: true,
			doc: interfaces(func(rx, _, _, _ *float64) *float64 { return rx })},
		{name: "network.tx_bytes", help: "bytes sent by an interface since boot", labels: []string{"interface"}, counter: true,
			doc: interfaces(func(_, tx, _, _ *float64) *float64 { return tx })},
		{name: "network.resolvers", help: "DNS servers configured", doc: scalar("network", func(d *networkData) *float64 {
			if d.Resolvers == nil {
				return nil
			}
			x := float64(*d.Resolvers)
			return &x
		})},
		{name: "network.default_route", help: "1 when the machine has a default route, else 0 (Linux only)", doc: defaultRoute},
		{name: "dns.failing", help: "1 when no DNS server is configured, else 0 (not on Windows)", doc: dnsFailing},

		{name: "services.failed", help: "1 for each failed service unit", labels: []string{"unit"}, doc: failedUnits},
		{name: "services.failed_count", help: "number of failed service units", doc: failedCount},

		{name: "time.collector_offset_seconds", help: "clock offset from the collector, absolute, less half the round trip, seconds", doc: collectorOffset},
		{name: "time.synced", help: "1 when the clock is kept in sync with a time server, else 0", doc: timeSynced},
	} {
		catalogue[f.name] = f
	}
}
