package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/protocol"
)

// ImportResult answers POST /api/v1/tickets/{ref}/import.
type ImportResult struct {
	SnapshotID int64  `json:"snapshot_id"`
	AgentID    string `json:"agent_id"`
	Duplicate  bool   `json:"duplicate"`
}

// importSnapshot files a snapshot document written by `sonde-agent snapshot
// -o FILE` on a machine that could not reach the collector. The file is
// checked like anything an agent sends, whole, before anything is written;
// a machine known only from files is recorded in the snapshot's commit.
func (a *API) importSnapshot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, err := a.Ticket(ctx, r.PathValue("ref"))
	if err != nil {
		a.fail(w, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, protocol.MaxDocument))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "snapshot file: %v", err)
		return
	}
	var head struct {
		AgentID string          `json:"agent_id"`
		Facts   *protocol.Facts `json:"facts"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		writeError(w, http.StatusBadRequest, "not a snapshot document: %v", err)
		return
	}
	ag, err := a.importAgent(r, head.AgentID, head.Facts)
	if err != nil {
		a.fail(w, err)
		return
	}
	// The capture time is checked against the collector's clock here: a
	// file's clock cannot be measured, and a document dated ahead would be
	// the machine's latest until then.
	snap, _, err := protocol.ParseDocument(body, ag.ID)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	id, dup, err := a.Store.ImportSnapshot(ctx, ag, store.FromWire(snap, time.Now()))
	if err != nil {
		a.fail(w, err)
		return
	}
	if err := a.fileImport(ctx, t.Ref, ag, id, time.UnixMilli(snap.CapturedAt)); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, ImportResult{SnapshotID: id, AgentID: ag.ID, Duplicate: dup})
}

// fileImport puts an imported snapshot on a ticket: its machine among the
// ticket's, and one timeline entry, however often the same file comes.
func (a *API) fileImport(ctx context.Context, ref string, ag store.Agent, id int64, captured time.Time) error {
	events, err := a.Store.TicketEvents(ctx, ref)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(events, func(ev ticket.Event) bool { return ev.Kind == "import" && ev.Snapshot == id }) {
		return nil
	}
	k, _ := KeyFrom(ctx)
	_, err = a.Store.UpdateTicket(ctx, ref, func(t *ticket.Ticket) (ticket.Event, error) {
		if !slices.Contains(t.Agents, ag.ID) {
			t.Agents = append(t.Agents, ag.ID)
		}
		t.UpdatedAt = time.Now().UTC()
		return ticket.Event{At: t.UpdatedAt, Actor: k.Name, Kind: "import", Snapshot: id,
			Text: fmt.Sprintf("of %s (%s), captured %s", ag.ID, ag.Facts.Hostname, captured.UTC().Format(time.RFC3339))}, nil
	})
	return err
}

// importAgent finds the agent an imported file belongs to: the one named
// by ?agent=, else the file's own agent ID, else the enrolled agent of the
// same machine (its host ID and hostname), else a machine known only from files,
// identified by its host ID. It writes nothing: a new machine is recorded
// with its snapshot (Store.ImportSnapshot), once the file passed.
func (a *API) importAgent(r *http.Request, fileAgent string, facts *protocol.Facts) (store.Agent, error) {
	ctx := r.Context()
	if name := r.URL.Query().Get("agent"); name != "" {
		return a.FindAgent(ctx, name)
	}
	if fileAgent != "" {
		ag, err := a.Store.Agent(ctx, fileAgent)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return ag, err
		}
	}
	if facts == nil || (facts.HostID == "" && facts.Hostname == "") {
		return store.Agent{}, errorf(http.StatusBadRequest, "the file names no known agent and no machine: pass ?agent=ID (sonde import --agent)")
	}
	if err := facts.Validate(); err != nil {
		return store.Agent{}, errorf(http.StatusBadRequest, "%v", err)
	}
	if ag, ok, err := a.enrolledHost(ctx, facts); ok || err != nil {
		return ag, err
	}
	sum := sha256.Sum256([]byte(facts.HostID + "\x00" + facts.Hostname))
	ag := store.Agent{ID: store.ImportedAgentPrefix + hex.EncodeToString(sum[:8]), Facts: *facts, EnrolledAt: time.Now().UTC()}
	if known, err := a.Store.Agent(ctx, ag.ID); err == nil || !errors.Is(err, store.ErrNotFound) {
		return known, err
	}
	return ag, nil
}

// enrolledHost finds the enrolled, unrevoked agent of the machine the
// facts describe: the same host ID and hostname (cloned virtual machines
// share a host ID, not a name); of several (a machine enrolled again), the
// one seen last.
func (a *API) enrolledHost(ctx context.Context, facts *protocol.Facts) (store.Agent, bool, error) {
	if facts.HostID == "" {
		return store.Agent{}, false, nil
	}
	agents, err := a.Store.Agents(ctx)
	if err != nil {
		return store.Agent{}, false, err
	}
	var best store.Agent
	found := false
	for _, ag := range agents {
		if ag.Facts.HostID != facts.HostID || !strings.EqualFold(ag.Facts.Hostname, facts.Hostname) || !store.Delivers(ag.ID) || !ag.RevokedAt.IsZero() {
			continue
		}
		if !found || ag.LastSeen.After(best.LastSeen) {
			best, found = ag, true
		}
	}
	return best, found, nil
}
