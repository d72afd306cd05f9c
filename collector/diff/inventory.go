package diff

// processesData is what the diff reads of the processes probe's full
// result; its health result only counts processes.
type processesData struct {
	TopCPU    *[]process `json:"top_cpu"`
	TopMemory *[]process `json:"top_memory"`
}

type process struct {
	Name string `json:"name"`
}

// compareProcesses tells which processes of note, those in the top lists
// by CPU and by memory, appeared or disappeared, by name. A process that
// left the lists may still run, only more quietly.
func compareProcesses(s *Section, p pair) {
	var a, b processesData
	if !load(s, p, "processes", &a, &b) {
		return
	}
	if !a.full() || !b.full() {
		s.note("not comparable: only full snapshots list the top processes")
		return
	}
	s.members("top process", a.names(), b.names(), true, true)
}

func (d *processesData) full() bool { return d.TopCPU != nil || d.TopMemory != nil }

func (d *processesData) names() []string {
	var names []string
	for _, list := range []*[]process{d.TopCPU, d.TopMemory} {
		if list != nil {
			for _, p := range *list {
				names = append(names, p.Name)
			}
		}
	}
	return names
}
