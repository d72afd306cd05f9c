package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/internal/atomicfile"
	"github.com/sondehq/sonde/protocol"
	"github.com/sondehq/sonde/redact"
)

// Bundler is what the API needs to build bundles.
type Bundler struct {
	Dir     string // where bundle files are kept
	Key     ed25519.PrivateKey
	KB      *findings.KB
	Version string
}

// BundleRequest is the body of POST /api/v1/tickets/{ref}/bundles.
type BundleRequest struct {
	Agent        string `json:"agent"`
	Pseudonymize bool   `json:"pseudonymize,omitempty"`
	Timeout      string `json:"timeout,omitempty"` // for the fresh snapshot; default 30s
	// Handover makes a handover package for the next tier: the bundle plus
	// the ticket's timeline and notes.
	Handover bool `json:"handover,omitempty"`
}

// BundleView is a bundle as the API shows it. Download is empty for
// callers who see the summary view only: they know a bundle by its
// record, and its contents are for L2 and above.
type BundleView struct {
	store.Bundle
	Download string `json:"download,omitempty"`
}

func viewBundle(k store.APIKey, b store.Bundle) BundleView {
	v := BundleView{Bundle: b}
	if access.Can(k, access.DownloadBundle) {
		v.Download = fmt.Sprintf("/api/v1/bundles/%d/download", b.ID)
	}
	return v
}

// KeyView is the collector's bundle signing key.
type KeyView struct {
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"` // base64
}

func (a *API) bundleRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/tickets/{ref}/bundles", a.auth(access.BuildBundle, a.makeBundle))
	mux.Handle("GET /api/v1/bundles/{id}/download", a.auth(access.DownloadBundle, a.downloadBundle))
	mux.Handle("GET /api/v1/bundle-key", a.auth(access.ReadBundleKey, a.bundleKey))
	mux.Handle("POST /api/v1/tickets/{ref}/import", a.auth(access.Import, a.importSnapshot))
}

func (a *API) bundleKey(w http.ResponseWriter, r *http.Request) {
	pub := a.Bundles.Key.Public().(ed25519.PublicKey)
	writeJSON(w, http.StatusOK, KeyView{KeyID: bundle.KeyID(pub), PublicKey: base64.StdEncoding.EncodeToString(pub)})
}

func (a *API) makeBundle(w http.ResponseWriter, r *http.Request) {
	var req BundleRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, err)
		return
	}
	ctx := r.Context()
	t, err := a.Ticket(ctx, r.PathValue("ref"))
	if err != nil {
		a.fail(w, err)
		return
	}
	ag, err := a.FindAgent(ctx, req.Agent)
	if err != nil {
		a.fail(w, err)
		return
	}
	timeout, err := parseTimeout(req.Timeout, a.MaxWait)
	if err != nil {
		a.fail(w, err)
		return
	}
	b, err := a.BuildBundle(ctx, t, ag, req.Pseudonymize, req.Handover, timeout)
	if err != nil {
		a.fail(w, err)
		return
	}
	k, _ := KeyFrom(ctx)
	writeJSON(w, http.StatusCreated, viewBundle(k, b))
}

func parseTimeout(s string, max time.Duration) (time.Duration, error) {
	if s == "" {
		return 30 * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errorf(http.StatusBadRequest, "timeout %q is not a positive duration such as 30s", s)
	}
	return min(d, max), nil
}

// BuildBundle takes a fresh snapshot when the agent is online (else uses
// the latest stored one, and says so), gathers history, builds, stores and
// attaches the bundle, for a caller allowed to (see access.Attach).
func (a *API) BuildBundle(ctx context.Context, t ticket.Ticket, ag store.Agent, pseudo, handover bool, timeout time.Duration) (_ store.Bundle, err error) {
	defer a.audit(ctx, access.BuildBundle, "ticket="+t.Ref+" "+agentTarget(ag), &err)
	k, _ := KeyFrom(ctx)
	if err := access.Attach(k, t, ag.ID); err != nil {
		return store.Bundle{}, err
	}
	in := &bundle.Input{Ticket: t.Ref, AgentID: ag.ID, KB: a.Bundles.KB, Version: a.Bundles.Version, Created: time.Now(),
		Redact: redact.Options{Pseudonymize: pseudo, Salt: randomBytes(16)}}
	// A bundle is evidence for a ticket: its snapshot checks connectivity
	// afresh, beside the connection the agent holds.
	snapCtx, cancel := context.WithTimeout(ingest.WithFresh(ingest.WithFreshHandshake(ingest.WithTicket(ctx, t.Ref))), timeout)
	// Every probe the agent has, the heavy ones (logs, software, storage
	// health) included, which a snapshot that names none leaves out.
	var id int64
	err = a.mayAsk(ag)
	if err == nil {
		id, err = a.Agents.RequestSnapshot(snapCtx, ag.ID, ag.Probes)
	}
	cancel()
	switch {
	case err == nil:
		in.Fresh = true
	case errors.Is(err, ingest.ErrOffline), errors.Is(err, ingest.ErrNotAnswering), errors.Is(err, context.DeadlineExceeded),
		overBudget(err) != nil, tooMany(err):
		latest, lerr := a.Store.Snapshots(ctx, ag.ID, store.SnapshotFilter{Kind: "full", Delivered: store.Delivers(ag.ID), Limit: 1})
		if lerr != nil {
			return store.Bundle{}, lerr
		}
		if len(latest) == 0 {
			return store.Bundle{}, errorf(http.StatusConflict, "agent %s is offline and has no stored snapshot to build a bundle from", ag.ID)
		}
		id = latest[0].ID
		in.Note = fmt.Sprintf("No fresh snapshot (%v): built from the latest stored snapshot, captured %s.", err, latest[0].CapturedAt.Format(time.RFC3339))
		if latest[0].Imported {
			in.Note += " That snapshot was imported from a file, not delivered by the agent."
		}
	default:
		return store.Bundle{}, errorf(http.StatusBadGateway, "snapshot from agent %s failed: %v", ag.ID, err)
	}
	snap, err := a.Store.Snapshot(ctx, id)
	if err != nil {
		return store.Bundle{}, err
	}
	in.SnapshotID, in.Snapshot = snap.ID, &snap.Document
	in.Snapshot.Facts = &ag.Facts
	if err := a.gatherHistory(ctx, in, snap); err != nil {
		return store.Bundle{}, err
	}
	kind := bundle.KindBundle
	if handover {
		kind = bundle.KindHandover
		events, err := a.Store.TicketEvents(ctx, t.Ref)
		if err != nil {
			return store.Bundle{}, err
		}
		bundles, err := a.Store.Bundles(ctx, t.Ref)
		if err != nil {
			return store.Bundle{}, err
		}
		evidence, err := a.pinned(ctx, bundles, events)
		if err != nil {
			return store.Bundle{}, err
		}
		in.Handover = &bundle.Handover{Ticket: t, Events: events, Evidence: evidence}
	}
	var buf bytes.Buffer
	m, mapping, err := bundle.Build(&buf, in, a.Bundles.Key)
	if err != nil {
		return store.Bundle{}, fmt.Errorf("building a %s of ticket %s from snapshot %d: %w", kind, t.Ref, snap.ID, err)
	}
	name := "bundle-" + hex.EncodeToString(randomBytes(8)) + ".zip"
	if err := os.MkdirAll(a.Bundles.Dir, 0o700); err != nil {
		return store.Bundle{}, fmt.Errorf("saving a %s of ticket %s: %w", kind, t.Ref, err)
	}
	path := filepath.Join(a.Bundles.Dir, name)
	if err := atomicfile.Write(path, buf.Bytes(), 0o600); err != nil {
		return store.Bundle{}, fmt.Errorf("saving a %s of ticket %s: %w", kind, t.Ref, err)
	}
	b, err := a.Store.AddBundle(ctx, store.Bundle{
		Kind: kind, Ticket: t.Ref, AgentID: ag.ID, SnapshotID: snap.ID, Fresh: in.Fresh, Note: in.Note,
		SHA256: sha256hex(buf.Bytes()), Size: int64(buf.Len()), Findings: m.Findings, Evidence: m.Evidence,
		CreatedAt: in.Created.UTC(), CreatedBy: k.Name, Path: name, Pseudonyms: mapping,
	}, ticket.Event{At: in.Created.UTC(), Actor: k.Name, Kind: kind})
	if err != nil {
		os.Remove(path)
		return b, err
	}
	a.wakeCourier()
	return b, nil
}

// gatherHistory adds recent health samples, the previous full snapshot and
// the last full snapshot without warnings.
func (a *API) gatherHistory(ctx context.Context, in *bundle.Input, snap *store.Snapshot) error {
	delivered := store.Delivers(snap.AgentID) // an import is no enrolled agent's history or baseline
	health, err := a.Store.Snapshots(ctx, snap.AgentID, store.SnapshotFilter{Kind: "health", Before: snap.CapturedAt, Delivered: delivered, Limit: 60})
	if err != nil {
		return err
	}
	for _, h := range health {
		s, err := a.Store.Snapshot(ctx, h.ID)
		if err != nil {
			return err
		}
		in.History = append(in.History, &s.Document)
	}
	fulls, err := a.Store.Snapshots(ctx, snap.AgentID, store.SnapshotFilter{Kind: "full", Before: snap.CapturedAt, Delivered: delivered, Limit: 30})
	if err != nil {
		return err
	}
	for _, f := range fulls {
		if f.ID == snap.ID {
			continue
		}
		s, err := a.Store.Snapshot(ctx, f.ID)
		if err != nil {
			return err
		}
		if in.Previous == nil {
			in.Previous, in.PreviousID = &s.Document, s.ID
		}
		if healthy(&s.Document) {
			in.Healthy, in.HealthyID = &s.Document, s.ID
			return nil
		}
	}
	return nil
}

// healthy reports whether a snapshot has no finding of warning or worse.
func healthy(d *protocol.Document) bool {
	for _, f := range findings.Analyze(d, nil) {
		if f.Severity >= findings.Warning {
			return false
		}
	}
	return true
}

func (a *API) downloadBundle(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bundle ID %q is not a number", r.PathValue("id"))
		return
	}
	if err := a.ServeBundle(w, r, id); err != nil {
		a.fail(w, err)
	}
}

// ServeBundle answers r with bundle id's zip file, Range requests
// included, so that an interrupted download resumes. When the bundle or
// its file is missing it writes nothing and returns an operation error
// (see Status); the caller answers it in its own format.
func (a *API) ServeBundle(w http.ResponseWriter, r *http.Request, id int64) (err error) {
	defer a.audit(r.Context(), access.DownloadBundle, fmt.Sprintf("id=%d", id), &err)
	if err := allow(r.Context(), access.DownloadBundle); err != nil {
		return err
	}
	b, err := a.Store.Bundle(r.Context(), id)
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(a.Bundles.Dir, filepath.Base(b.Path)))
	if err != nil {
		a.Log.Error("bundle file", "bundle", id, "err", err)
		return errorf(http.StatusGone, "bundle %d's file is missing on the collector", id)
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="sonde-%s-%d.zip"`, b.Ticket, b.ID))
	w.Header().Set("ETag", `"`+b.SHA256+`"`)
	w.Header().Set("X-Content-SHA256", b.SHA256)
	http.ServeContent(w, r, "", b.CreatedAt, f)
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
