package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
)

// TestSilences adds, lists and expires a silence, and refuses bad ones.
func TestSilences(t *testing.T) {
	h := fleet(t)
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sonde_test_l2")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, bad := range []string{
		`{"matchers":"alertname","duration":"2h"}`,
		`{"matchers":"alertname=X","duration":"-1h"}`,
		`{"matchers":"alertname=X","duration":"9000h"}`,
		`{"matchers":"","duration":"2h"}`,
	} {
		if rec := do("POST", "/api/v1/silences", bad); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d %s", bad, rec.Code, rec.Body)
		}
	}
	rec := do("POST", "/api/v1/silences", `{"matchers":"alertname=DiskAlmostFull,hostname=pc1","duration":"2h","comment":"disk swap"}`)
	var s struct {
		ID        string `json:"id"`
		CreatedBy string `json:"created_by"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &s); rec.Code != http.StatusCreated || s.ID == "" || s.CreatedBy != "l2" {
		t.Fatalf("add: HTTP %d %s", rec.Code, rec.Body)
	}
	if rec := do("GET", "/api/v1/silences", ""); !strings.Contains(rec.Body.String(), s.ID) {
		t.Errorf("list: %s", rec.Body)
	}
	if rec := do("DELETE", "/api/v1/silences/"+s.ID, ""); rec.Code != http.StatusNoContent {
		t.Errorf("expire: HTTP %d %s", rec.Code, rec.Body)
	}
	if rec := do("DELETE", "/api/v1/silences/"+s.ID, ""); rec.Code != http.StatusNotFound {
		t.Errorf("expire twice: HTTP %d", rec.Code)
	}
	if rec := do("GET", "/api/v1/silences", ""); strings.Contains(rec.Body.String(), s.ID) {
		t.Errorf("an expired silence is listed: %s", rec.Body)
	}
	if rec := do("GET", "/api/v1/alerts", ""); rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("alerts: HTTP %d %s", rec.Code, rec.Body)
	}
}

// TestAlertsListing: the listing shows a pending alert's summary, and says
// of a firing alert whose condition has cleared why it still fires, since
// when and until when.
func TestAlertsListing(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: "l2", Name: "l2", Role: store.RoleL2, CreatedAt: time.Now()}, api.HashKey("sonde_test_l2")); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	apitest.PutAlerts(t, st, "a1", now)
	code, body := do(t, (&api.API{Store: st, Agents: apitest.Offline{}}).Handler(), "l2", "GET", "/api/v1/alerts?agent=a1", "")
	var list []alert.Alert
	if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil || len(list) != 2 {
		t.Fatalf("HTTP %d %s", code, body)
	}
	byRule := map[string]alert.Alert{}
	for _, a := range list {
		byRule[a.Rule] = a
	}
	disk := byRule["DiskAlmostFull"]
	if disk.State != alert.Pending || disk.Annotations["summary"] != "Disk / on pc1 is 95% full" || disk.KeepFiring != "" {
		t.Errorf("pending alert: %+v", disk)
	}
	run := byRule["SingleCoreRunaway"]
	if run.State != alert.Firing || run.KeepFiring != "condition cleared 1 min ago; clears in 4 min (keep_firing_for 5m)" ||
		run.Annotations["summary"] != "reportgen (PID 4242) on pc1 has used 99% of one core for 18m: reportgen --job nightly" {
		t.Errorf("held alert: %+v", run)
	}
	for _, field := range []string{`"keep_firing": "condition cleared 1 min ago`, `"keep_firing_for": 300000000000`, `"resolves_at": `, `"false_since": `} {
		if !strings.Contains(body, field) {
			t.Errorf("the listing lacks %s: %s", field, body)
		}
	}
}
