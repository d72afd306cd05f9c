package findings

import "fmt"

func init() {
	register("agent", []string{"agent.snapshots-dropped"}, analyzeAgent)
}

// agentData is the part of the agent probe this analyzer reads: what the
// agent could not deliver.
type agentData struct {
	Delivery *struct {
		Lost       uint64 `json:"lost"`
		Dropped    uint64 `json:"spool_dropped"`
		SpoolBytes int64  `json:"spool_bytes"`
		SpoolCap   int64  `json:"spool_cap"`
	} `json:"delivery"`
}

func analyzeAgent(in *input) []Finding {
	var d agentData
	if !probe(in.doc, "agent", &d) || d.Delivery == nil {
		return nil
	}
	gone := d.Delivery.Lost + d.Delivery.Dropped
	if gone == 0 {
		return nil
	}
	return []Finding{{
		ID: "agent.snapshots-dropped", Severity: Info, Subject: "sonde-agent",
		Title: fmt.Sprintf("The Sonde agent dropped %d snapshots it could not deliver", gone),
		Evidence: map[string]any{"spool_dropped": d.Delivery.Dropped, "lost": d.Delivery.Lost,
			"spool_bytes": d.Delivery.SpoolBytes, "spool_cap": d.Delivery.SpoolCap},
	}}
}
