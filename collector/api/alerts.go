package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/alert"
)

// SilenceRequest is the body of POST /api/v1/silences.
type SilenceRequest struct {
	// Matchers are label=value pairs, "alertname=DiskAlmostFull,hostname=pc1".
	Matchers string `json:"matchers"`
	// Duration is a Go duration ("2h") from now; EndsAt wins when set.
	Duration string    `json:"duration,omitempty"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	Comment  string    `json:"comment,omitempty"`
}

// maxSilence bounds how long a silence may last.
const maxSilence = 90 * 24 * time.Hour

func (a *API) alertRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/alerts", a.auth(access.ListAlerts, a.listAlerts))
	mux.Handle("GET /api/v1/silences", a.auth(access.ListSilences, a.listSilences))
	mux.Handle("POST /api/v1/silences", a.auth(access.AddSilence, a.addSilence))
	mux.Handle("DELETE /api/v1/silences/{id}", a.auth(access.ExpireSilence, a.expireSilence))
}

// Alerts returns the current alerts, pending and firing, with the IDs of
// the silences in force that mute them and, for a firing alert whose
// condition has cleared, why it still fires (keep_firing); agentID, when
// set, narrows them to one agent.
func (a *API) Alerts(ctx context.Context, agentID string) ([]alert.Alert, error) {
	now := time.Now()
	alerts, err := a.Store.AlertState(ctx)
	if err != nil {
		return nil, err
	}
	silences, err := a.Store.Silences(ctx, now)
	if err != nil {
		return nil, err
	}
	out := []alert.Alert{}
	for _, al := range alerts {
		if agentID != "" && al.AgentID != agentID {
			continue
		}
		al.Silenced, al.KeepFiring = nil, al.KeptFiring(now)
		for _, s := range silences {
			if s.Active(now) && s.Matches(al.Labels) {
				al.Silenced = append(al.Silenced, s.ID)
			}
		}
		out = append(out, al)
	}
	return out, nil
}

func (a *API) listAlerts(w http.ResponseWriter, r *http.Request) {
	out, err := a.Alerts(r.Context(), r.URL.Query().Get("agent"))
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) listSilences(w http.ResponseWriter, r *http.Request) {
	out, err := a.Store.Silences(r.Context(), time.Now())
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// AddSilence stores a silence for the caller in ctx (see WithKey).
func (a *API) AddSilence(ctx context.Context, req SilenceRequest) (_ alert.Silence, err error) {
	defer a.audit(ctx, access.AddSilence, "matchers="+req.Matchers, &err)
	if err := allow(ctx, access.AddSilence); err != nil {
		return alert.Silence{}, err
	}
	ms, err := alert.ParseMatchers(req.Matchers)
	if err != nil {
		return alert.Silence{}, errorf(http.StatusBadRequest, "%v", err)
	}
	now := time.Now().UTC()
	ends := req.EndsAt
	if ends.IsZero() {
		d, err := time.ParseDuration(req.Duration)
		if err != nil || d <= 0 {
			return alert.Silence{}, errorf(http.StatusBadRequest, "duration %q is not a positive duration such as 2h", req.Duration)
		}
		ends = now.Add(d)
	}
	if ends.Sub(now) > maxSilence {
		return alert.Silence{}, errorf(http.StatusBadRequest, "a silence lasts at most %s", maxSilence)
	}
	if len(req.Comment) > 1024 {
		return alert.Silence{}, errorf(http.StatusBadRequest, "comment is longer than 1024 characters")
	}
	k, _ := KeyFrom(ctx)
	id := make([]byte, 8)
	rand.Read(id)
	s := alert.Silence{ID: hex.EncodeToString(id), Matchers: ms, StartsAt: now, EndsAt: ends.UTC(),
		CreatedBy: k.Name, Comment: strings.TrimSpace(req.Comment)}
	if err := s.Validate(); err != nil {
		return s, errorf(http.StatusBadRequest, "%v", err)
	}
	return s, a.Store.PutSilence(ctx, s)
}

func (a *API) addSilence(w http.ResponseWriter, r *http.Request) {
	var req SilenceRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, err)
		return
	}
	s, err := a.AddSilence(r.Context(), req)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s)
}

func (a *API) expireSilence(w http.ResponseWriter, r *http.Request) {
	if err := a.Store.ExpireSilence(r.Context(), r.PathValue("id"), time.Now().UTC()); err != nil {
		a.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
