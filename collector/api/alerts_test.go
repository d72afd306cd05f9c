package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
