package cli

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
)

// TestAlertsListing: `sonde alerts` shows a pending alert's summary, and
// after the summary of a firing alert whose condition has cleared, why it
// still fires and for how long.
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
	apitest.PutAlerts(t, st, "a1", time.Now().UTC())
	srv := httptest.NewServer((&api.API{Store: st, Agents: apitest.Offline{}}).Handler())
	defer srv.Close()
	c, err := NewClient(srv.URL, "sonde_test_l2")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := alertsCmd(ctx, c, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 2 {
			lines[f[2]] = l
		}
	}
	if l := lines["DiskAlmostFull"]; !strings.HasPrefix(l, "pending") || !strings.HasSuffix(l, "Disk / on pc1 is 95% full") {
		t.Errorf("pending alert: %q\n%s", l, out.String())
	}
	want := "reportgen (PID 4242) on pc1 has used 99% of one core for 18m: reportgen --job nightly — condition cleared 1 min ago; clears in 4 min (keep_firing_for 5m)"
	if l := lines["SingleCoreRunaway"]; !strings.HasPrefix(l, "firing") || !strings.HasSuffix(l, want) {
		t.Errorf("held alert: %q, want it to end %q", l, want)
	}
}
