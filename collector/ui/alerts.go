package ui

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/api"
)

type alertsData struct {
	Alerts          []alert.Alert
	Firing, Pending int
	Silences        []alert.Silence
	CanSilence      bool
}

// alerts shows the fleet's alerts, firing first, and the silences in
// force.
func (u *UI) alerts(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	list, err := u.api.Alerts(ctx, "")
	if err != nil {
		u.fail(w, r, err)
		return
	}
	var d alertsData
	for _, a := range list {
		if a.State == alert.Firing {
			d.Alerts = append(d.Alerts, a)
			d.Firing++
		}
	}
	for _, a := range list {
		if a.State == alert.Pending {
			d.Alerts = append(d.Alerts, a)
			d.Pending++
		}
	}
	k, _ := api.KeyFrom(ctx)
	d.CanSilence = access.Can(k, access.AddSilence)
	if access.Can(k, access.ListSilences) {
		if d.Silences, err = u.api.Store.Silences(ctx, time.Now()); err != nil {
			u.fail(w, r, err)
			return
		}
	}
	u.render(w, r, http.StatusOK, "alerts", "Alerts", d)
}

// firing returns an agent's firing alerts.
func (u *UI) firing(ctx context.Context, agentID string) ([]alert.Alert, error) {
	list, err := u.api.Alerts(ctx, agentID)
	if err != nil {
		return nil, fmt.Errorf("reading the alerts of agent %s: %w", agentID, err)
	}
	var out []alert.Alert
	for _, a := range list {
		if a.State == alert.Firing {
			out = append(out, a)
		}
	}
	return out, nil
}

// silence adds a silence (a maintenance window) from the alerts page.
func (u *UI) silence(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s, err := u.api.AddSilence(ctx, api.SilenceRequest{
		Matchers: r.PostFormValue("matchers"),
		Duration: r.PostFormValue("duration"),
		Comment:  r.PostFormValue("comment"),
	})
	if err != nil {
		u.done(w, r, "/alerts", err, "")
		return
	}
	u.done(w, r, "/alerts", nil, "Silence "+s.ID+" added until "+s.EndsAt.Format("2006-01-02 15:04 UTC")+".")
}
