package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

type agentView struct {
	ID     string `json:"id"`
	Online bool   `json:"online"`
	Facts  struct {
		Hostname string `json:"hostname"`
	} `json:"facts"`
}

type snapshotView struct {
	ID      int64  `json:"id"`
	AgentID string `json:"agent_id"`
	Kind    string `json:"kind"`
	Probes  []struct {
		Name  string          `json:"name"`
		Error string          `json:"error"`
		Data  json.RawMessage `json:"data"`
	} `json:"probes"`
}

// TestSpine is the whole on-demand path with the real binaries: serve,
// token create, enroll, run, request a snapshot through the API and the
// CLI, find it in the store; bad input gets clear errors; the agent comes
// back by itself after the collector is killed and restarted.
func TestSpine(t *testing.T) {
	s := &sonde{data: t.TempDir(), state: t.TempDir(), quicAddr: harness.FreeAddr(t)}
	httpAddr := harness.FreeAddr(t)
	s.base = "http://" + httpAddr
	s.serveArgs = []string{"serve", "--data", s.data, "--quic", s.quicAddr, "--http", httpAddr}
	data, state, quicAddr, base := s.data, s.state, s.quicAddr, s.base
	s.startCollector(t)

	var tok struct {
		Token string `json:"token"`
		Pin   string `json:"ca_pin"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, nil, "sonde-collector", "token", "create", "--data", data, "--json")), &tok); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.Pin, "sha256:") || len(tok.Token) < 40 {
		t.Fatalf("token create printed %+v", tok)
	}

	// A wrong pin is refused before anything is sent.
	badPin := "sha256:" + strings.Repeat("0", 64)
	if _, err := run(t, nil, "sonde-agent", "enroll", "--state", t.TempDir(), "--collector", quicAddr, "--token", tok.Token, "--ca-pin", badPin); err == nil || !strings.Contains(err.Error(), "does not match the pin") {
		t.Fatalf("enroll with a wrong pin: %v", err)
	}
	mustRun(t, nil, "sonde-agent", "enroll", "--state", state, "--collector", quicAddr, "--token", tok.Token, "--ca-pin", tok.Pin)
	if fi, err := os.Stat(filepath.Join(state, "agent.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("agent key: %v, mode %v", err, fi.Mode())
	}
	// The token had one use.
	if _, err := run(t, nil, "sonde-agent", "enroll", "--state", t.TempDir(), "--collector", quicAddr, "--token", tok.Token, "--ca-pin", tok.Pin); err == nil || !strings.Contains(err.Error(), "used up") {
		t.Fatalf("second enroll with a one-use token: %v", err)
	}

	start(t, "sonde-agent", "run", "--state", state)
	key := firstLine(mustRun(t, nil, "sonde-collector", "apikey", "create", "e2e", "--role", "l2", "--data", data))
	env := []string{"SONDE_URL=" + base, "SONDE_TOKEN=" + key}

	var agents []agentView
	waitFor(t, "the agent to be online", 15*time.Second, func() bool {
		agents = nil
		api(t, "GET", base+"/api/v1/agents", key, nil, &agents)
		return len(agents) == 1 && agents[0].Online
	})
	id, host := agents[0].ID, agents[0].Facts.Hostname

	// The CLI lists it as online.
	if out := mustRun(t, env, "sonde", "agents"); !strings.Contains(out, id) || !strings.Contains(out, "online") {
		t.Fatalf("sonde agents:\n%s", out)
	}

	// A full snapshot by hostname carries every probe the agent runs
	// when none is named: all but the heavy ones (`sonde-agent probes`
	// lists each with when it runs, under a header line).
	var want []string
	for _, line := range strings.Split(mustRun(t, nil, "sonde-agent", "probes"), "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 && f[1] != "heavy" {
			want = append(want, f[0])
		}
	}
	var snap snapshotView
	if err := json.Unmarshal([]byte(mustRun(t, env, "sonde", "snapshot", host, "--json")), &snap); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range snap.Probes {
		got = append(got, p.Name)
		if p.Error == "" && len(p.Data) == 0 {
			t.Errorf("probe %s has neither data nor error", p.Name)
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") || snap.Kind != "full" || snap.AgentID != id {
		t.Fatalf("snapshot has probes %v kind %s agent %s; want %v full %s", got, snap.Kind, snap.AgentID, want, id)
	}
	// ... and is in the store.
	var stored snapshotView
	if code := api(t, "GET", base+"/api/v1/snapshots/"+strconv.FormatInt(snap.ID, 10), key, nil, &stored); code != 200 || len(stored.Probes) != len(want) {
		t.Fatalf("stored snapshot: HTTP %d, %d probes", code, len(stored.Probes))
	}
	var list []snapshotView
	api(t, "GET", base+"/api/v1/agents/"+id+"/snapshots?kind=full", key, nil, &list)
	if len(list) != 1 || list[0].ID != snap.ID {
		t.Fatalf("snapshot listing: %+v", list)
	}
	// The text form shows each probe as a section.
	if out := mustRun(t, env, "sonde", "snapshot", id, "--probes", "memory,cpu"); !strings.Contains(out, "== memory") || !strings.Contains(out, "== cpu") {
		t.Fatalf("sonde snapshot text:\n%s", out)
	}

	// Bad input gets clear errors and leaves the collector serving.
	var apiErr struct {
		Error string `json:"error"`
	}
	for _, c := range []struct {
		method, path, key, body string
		code                    int
		says                    string
	}{
		{"GET", "/api/v1/agents", "", "", 401, "missing API key"},
		{"GET", "/api/v1/agents", "sonde_wrong", "", 401, "unknown API key"},
		{"POST", "/api/v1/agents/no-such-agent/snapshots", key, "", 404, "no agent"},
		{"POST", "/api/v1/agents/" + id + "/snapshots", key, `{"probes":["nope"]}`, 400, "unknown probe"},
		{"POST", "/api/v1/agents/" + id + "/snapshots", key, `{"probes":["../../etc"]}`, 400, "not valid"},
		{"POST", "/api/v1/agents/" + id + "/snapshots", key, `{"command":"rm -rf /"}`, 400, "unknown field"},
		{"GET", "/api/v1/snapshots/999999", key, "", 404, "not found"},
	} {
		apiErr.Error = ""
		code := api(t, c.method, base+c.path, c.key, strings.NewReader(c.body), &apiErr)
		if code != c.code || !strings.Contains(apiErr.Error, c.says) {
			t.Errorf("%s %s: HTTP %d %q, want %d containing %q", c.method, c.path, code, apiErr.Error, c.code, c.says)
		}
	}
	l1 := firstLine(mustRun(t, nil, "sonde-collector", "apikey", "create", "l1-desk", "--role", "l1", "--data", data))
	if code := api(t, "POST", base+"/api/v1/agents/"+id+"/snapshots", l1, nil, &apiErr); code != 403 {
		t.Errorf("an l1 key took a full snapshot: HTTP %d", code)
	}

	// Kill the collector hard; the agent reconnects once it is back.
	s.collector.cmd.Process.Signal(syscall.SIGKILL)
	s.collector.cmd.Wait()
	s.startCollector(t)
	waitFor(t, "the agent to reconnect", 75*time.Second, func() bool {
		var agents []agentView
		api(t, "GET", base+"/api/v1/agents", key, nil, &agents)
		return len(agents) == 1 && agents[0].Online
	})
	if err := json.Unmarshal([]byte(mustRun(t, env, "sonde", "snapshot", id, "--probes", "system", "--json")), &snap); err != nil || len(snap.Probes) != 1 {
		t.Fatalf("snapshot after the restart: %v %+v", err, snap)
	}
}
