package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sondehq/sonde/loadgen"
)

// TestLoadgen runs the real sonde-loadgen with 20 agents against the real
// collector for a few seconds: every phase (enrollment, connection, the
// collector's memory, on-demand through the API, an ingest burst with the
// raw ceiling beside it, a reconnect storm), then again with the identities
// it cached and no token.
func TestLoadgen(t *testing.T) {
	s := startSonde(t)
	var tok struct {
		Token string `json:"token"`
		Pin   string `json:"ca_pin"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, nil, "sonde-collector", "token", "create", "--data", s.data, "--uses", "20", "--json")), &tok); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	common := []string{"run", "--collector", s.quicAddr, "--pin", tok.Pin, "--cache", cache, "--agents", "20", "--per-socket", "8",
		"--collector-pid", fmt.Sprint(s.collector.cmd.Process.Pid), "--settle", "500ms", "--api", s.base, "--json"}
	out := mustRun(t, nil, "sonde-loadgen", append(common, "--token", tok.Token, "--health-interval", "1s",
		"--key", s.key, "--ondemand", "10", "--ondemand-rate", "20", "--ingest", "health", "--ingest-senders", "5",
		"--ingest-warmup", "300ms", "--ingest-window", "1500ms", "--raw", "--storm", "drop", "--hold", "1500ms")...)
	var r loadgen.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	if r.Agents != 20 || r.Enrolled != 20 || r.Sockets != 3 {
		t.Errorf("agents %d, enrolled %d, sockets %d; want 20, 20, 3", r.Agents, r.Enrolled, r.Sockets)
	}
	if r.CollectorSees != 21 { // and the real agent
		t.Errorf("the collector counts %v connected, want 21", r.CollectorSees)
	}
	if r.RSSConnected <= 0 || r.RSSBefore <= 0 {
		t.Errorf("collector RSS %d before, %d connected", r.RSSBefore, r.RSSConnected)
	}
	if od := r.OnDemand; od == nil || od.OK != 10 || od.Latency.Count != 10 || len(od.Failed) != 0 || r.Answered < 10 || r.Refused != 0 {
		t.Errorf("on-demand %+v, %d answered, %d refused; want 10 stored and answered", od, r.Answered, r.Refused)
	}
	if in := r.Ingest; in == nil || in.Acked == 0 || in.Rate <= 0 || in.Failed != 0 || in.WireSize < 200 {
		t.Errorf("ingest %+v", in)
	}
	if raw := r.Raw; raw == nil || raw.Acked == 0 || raw.Conns != 5 {
		t.Errorf("raw ceiling %+v", raw)
	}
	if st := r.Storm; st == nil || !st.AllBack || st.Dropped != 20 {
		t.Errorf("storm %+v", st)
	}
	if r.HealthAcked == 0 || len(r.Errors) != 0 {
		t.Errorf("%d health snapshots acked; errors %v", r.HealthAcked, r.Errors)
	}

	// What the loadgen's agents sent is stored under their own names.
	var agents []agentView
	api(t, "GET", s.base+"/api/v1/agents", s.key, nil, &agents)
	var sim []string
	for _, a := range agents {
		if strings.HasPrefix(a.Facts.Hostname, "loadgen-") {
			sim = append(sim, a.ID)
		}
	}
	if len(sim) != 20 {
		t.Fatalf("%d loadgen agents enrolled, want 20", len(sim))
	}
	var snaps []json.RawMessage
	api(t, "GET", s.base+"/api/v1/agents/"+sim[0]+"/snapshots?kind=health", s.key, nil, &snaps)
	if len(snaps) == 0 {
		t.Errorf("no health snapshot stored for loadgen agent %s", sim[0])
	}

	// Again, from the cache: no token needed, nothing enrolled.
	out = mustRun(t, nil, "sonde-loadgen", common...)
	r = loadgen.Report{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	if r.Enrolled != 0 || r.Agents != 20 {
		t.Errorf("second run enrolled %d of %d, want 0", r.Enrolled, r.Agents)
	}
}
