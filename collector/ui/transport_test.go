package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/ingest"
)

// linked is a live side with a1 connected over the TCP fallback and a2
// over QUIC.
type linked struct{ apitest.Offline }

func (linked) Connected() map[string]ingest.Link {
	return map[string]ingest.Link{"a1": {Since: time.Now(), Transport: "tcp"}, "a2": {Since: time.Now(), Transport: "quic"}}
}

// TestAgentPageShowsTransport: the agent page says how the agent is
// connected, and the agents list marks those on the TCP fallback.
func TestAgentPageShowsTransport(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, linked{})
	apitest.PutFixture(t, e.st, "a1")
	apitest.PutFixture(t, e.st, "a2")
	c := e.login(t, "l2")
	if _, page := e.get(t, c, "/agents/a1"); !strings.Contains(page, "over TCP (UDP is blocked on the agent's network)") {
		t.Errorf("the page of an agent on TCP does not say so:\n%s", page)
	}
	if _, page := e.get(t, c, "/agents/a2"); !strings.Contains(page, "over QUIC.") {
		t.Errorf("the page of an agent on QUIC does not say so")
	}
	_, list := e.get(t, c, "/")
	if strings.Count(list, `title="UDP is blocked on the agent's network">TCP</span>`) != 1 {
		t.Errorf("the agents list does not mark the one agent on TCP:\n%s", list)
	}
}
