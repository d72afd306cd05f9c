package sqlite_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/store"
)

// TestAlertStateAndSilences round-trips the engine's state and silences
// across a reopen, and expires a silence.
func TestAlertStateAndSilences(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sonde.db")
	s := open(t, path)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := alert.Alert{Fingerprint: "fp1", Rule: "R", AgentID: "ag1", State: alert.Firing, ActiveAt: now, StartsAt: now,
		Labels: map[string]string{"alertname": "R"}, Notified: true}
	if err := s.SaveAlertState(ctx, []alert.Alert{a, {Fingerprint: "fp2", State: alert.Pending}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAlertState(ctx, []alert.Alert{a}); err != nil {
		t.Fatal(err)
	}
	sl := alert.Silence{ID: "s1", Matchers: []alert.Matcher{{Name: "alertname", Value: "R"}}, StartsAt: now, EndsAt: now.Add(time.Hour)}
	if err := s.PutSilence(ctx, sl); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, path)
	got, err := s.AlertState(ctx)
	if err != nil || len(got) != 1 || got[0].Fingerprint != "fp1" || !got[0].Notified || !got[0].StartsAt.Equal(now) {
		t.Fatalf("alert state: %+v, %v", got, err)
	}
	sils, err := s.Silences(ctx, now)
	if err != nil || len(sils) != 1 || sils[0].Matchers[0].Value != "R" {
		t.Fatalf("silences: %+v, %v", sils, err)
	}
	if err := s.ExpireSilence(ctx, "s1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if sils, _ := s.Silences(ctx, now.Add(2*time.Minute)); len(sils) != 0 {
		t.Errorf("an expired silence is listed: %+v", sils)
	}
	if err := s.ExpireSilence(ctx, "s1", now.Add(3*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expiring twice: %v", err)
	}
}
