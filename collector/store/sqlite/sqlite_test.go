package sqlite_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/protocol"
)

// base is a fixed instant the tests build their times from, so results do
// not depend on the clock.
var base = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore opens a fresh database file in a temporary directory.
func newStore(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sonde.db")
	return open(t, path), path
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func createToken(t *testing.T, s *sqlite.Store, name string, uses int, expires time.Time) []byte {
	t.Helper()
	h := hash(name)
	if err := s.CreateToken(t.Context(), store.Token{Hash: h, CreatedAt: base, ExpiresAt: expires, Uses: uses, CreatedBy: "test"}); err != nil {
		t.Fatalf("CreateToken(%s): %v", name, err)
	}
	return h
}

// enroll records an agent through a fresh one-use token.
func enroll(t *testing.T, s *sqlite.Store, id, hostname string) {
	t.Helper()
	h := createToken(t, s, "token-for-"+id, 1, base.Add(time.Hour))
	a := store.Agent{ID: id, Facts: protocol.Facts{Hostname: hostname, OS: "linux", CPUs: 4}, AgentVersion: "0.1.0", EnrolledAt: base}
	if err := s.Enroll(t.Context(), h, base, a); err != nil {
		t.Fatalf("Enroll(%s): %v", id, err)
	}
}

func snapshot(agentID string, bootEpoch int64, seq uint64, kind string, captured time.Time) *store.Snapshot {
	return &store.Snapshot{
		Document: protocol.Document{
			AgentID:    agentID,
			BootEpoch:  bootEpoch,
			Seq:        seq,
			Kind:       kind,
			CapturedAt: captured,
			Probes: []protocol.ProbeJSON{
				{Name: "memory", DurationMS: 0.25, Data: json.RawMessage(fmt.Sprintf(`{"total":8589934592,"seq":%d}`, seq))},
			},
		},
		ReceivedAt: captured.Add(time.Second),
	}
}

func put(t *testing.T, s *sqlite.Store, snap *store.Snapshot) int64 {
	t.Helper()
	id, dup, err := s.PutSnapshot(t.Context(), snap)
	if err != nil {
		t.Fatalf("PutSnapshot(%s/%d/%d): %v", snap.AgentID, snap.BootEpoch, snap.Seq, err)
	}
	if dup {
		t.Fatalf("PutSnapshot(%s/%d/%d): duplicate on first put", snap.AgentID, snap.BootEpoch, snap.Seq)
	}
	return id
}

func TestPutSnapshotIdempotent(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	enroll(t, s, "agent-1", "web-1")

	first := snapshot("agent-1", 100, 1, "health", base)
	id, dup, err := s.PutSnapshot(ctx, first)
	if err != nil || dup || id == 0 {
		t.Fatalf("first put = (%d, %v, %v), want a new id", id, dup, err)
	}

	// The same identity again, even with other content, is the same row.
	again := snapshot("agent-1", 100, 1, "full", base.Add(time.Minute))
	again.Probes[0].Data = json.RawMessage(`{"changed":true}`)
	id2, dup, err := s.PutSnapshot(ctx, again)
	if err != nil || !dup || id2 != id {
		t.Fatalf("second put = (%d, %v, %v), want (%d, true, nil)", id2, dup, err, id)
	}
	got, err := s.Snapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != "health" || string(got.Probes[0].Data) != string(first.Probes[0].Data) {
		t.Errorf("duplicate put overwrote the stored snapshot: kind %q, data %s", got.Kind, got.Probes[0].Data)
	}

	// Any part of the identity that differs makes a new row.
	for _, other := range []*store.Snapshot{
		snapshot("agent-1", 100, 2, "health", base),
		snapshot("agent-1", 101, 1, "health", base),
	} {
		oid, dup, err := s.PutSnapshot(ctx, other)
		if err != nil || dup || oid == id {
			t.Errorf("put %d/%d = (%d, %v, %v), want a new row", other.BootEpoch, other.Seq, oid, dup, err)
		}
	}
	enroll(t, s, "agent-2", "web-2")
	if oid, dup, err := s.PutSnapshot(ctx, snapshot("agent-2", 100, 1, "health", base)); err != nil || dup || oid == id {
		t.Errorf("same boot epoch and seq for another agent = (%d, %v, %v), want a new row", oid, dup, err)
	}
	list, err := s.Snapshots(ctx, "agent-1", store.SnapshotFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Errorf("agent-1 has %d snapshots, want 3", len(list))
	}
}

func TestPutSnapshotConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	enroll(t, s, "agent-1", "web-1")

	const n = 20
	ids := make([]int64, n)
	dups := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i], dups[i], errs[i] = s.PutSnapshot(t.Context(), snapshot("agent-1", 7, 42, "full", base))
		})
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("put %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("put %d got id %d, put 0 got %d", i, ids[i], ids[0])
		}
		if !dups[i] {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d puts stored the snapshot, want exactly 1", fresh)
	}
}

func TestPutSnapshotUnknownAgent(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	if _, _, err := s.PutSnapshot(t.Context(), snapshot("ghost", 1, 1, "health", base)); err == nil {
		t.Fatal("stored a snapshot for an agent that is not enrolled")
	}
	if list, err := s.Snapshots(t.Context(), "ghost", store.SnapshotFilter{}); err != nil || len(list) != 0 {
		t.Errorf("Snapshots(ghost) = %d, %v; want none", len(list), err)
	}
}

// enrollAll has n goroutines enroll distinct agents with one token at the
// same time and returns how many got in.
func enrollAll(t *testing.T, s *sqlite.Store, tokenHash []byte, n int, now time.Time) (admitted []string) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			a := store.Agent{ID: fmt.Sprintf("agent-%02d", i), Facts: protocol.Facts{Hostname: fmt.Sprintf("host-%02d", i)}, EnrolledAt: now}
			errs[i] = s.Enroll(t.Context(), tokenHash, now, a)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		switch {
		case err == nil:
			admitted = append(admitted, fmt.Sprintf("agent-%02d", i))
		case !errors.Is(err, store.ErrTokenInvalid):
			t.Errorf("enrollment %d: %v, want nil or ErrTokenInvalid", i, err)
		}
	}
	return admitted
}

func TestEnrollConsumesToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		uses    int
		expires time.Duration // from now
		want    int
	}{
		{"one use", 1, time.Hour, 1},
		{"three uses", 3, time.Hour, 3},
		{"expired", 5, -time.Second, 0},
		{"expires now", 5, 0, 0},
		{"no uses", 0, time.Hour, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newStore(t)
			now := base.Add(24 * time.Hour)
			h := createToken(t, s, "token-"+tc.name, tc.uses, now.Add(tc.expires))
			admitted := enrollAll(t, s, h, 50, now)
			if len(admitted) != tc.want {
				t.Fatalf("%d of 50 enrollments admitted (%v), want %d", len(admitted), admitted, tc.want)
			}
			agents, err := s.Agents(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range agents {
				ids = append(ids, a.ID)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, admitted) {
				t.Errorf("stored agents %v, admitted %v", ids, admitted)
			}
			// The token is used up now.
			a := store.Agent{ID: "late", Facts: protocol.Facts{Hostname: "late"}, EnrolledAt: now}
			if err := s.Enroll(t.Context(), h, now, a); !errors.Is(err, store.ErrTokenInvalid) {
				t.Errorf("enrollment after the token was used up: %v, want ErrTokenInvalid", err)
			}
		})
	}
}

func TestEnrollRefusals(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	agent := func(id string) store.Agent {
		return store.Agent{ID: id, Facts: protocol.Facts{Hostname: id}, EnrolledAt: base}
	}

	if err := s.Enroll(ctx, hash("never created"), base, agent("a")); !errors.Is(err, store.ErrTokenInvalid) {
		t.Errorf("unknown token: %v, want ErrTokenInvalid", err)
	}

	// Expiry is judged at the time passed in, not the wall clock.
	h := createToken(t, s, "expiring", 2, base.Add(time.Hour))
	if err := s.Enroll(ctx, h, base.Add(time.Hour+time.Nanosecond), agent("a")); !errors.Is(err, store.ErrTokenInvalid) {
		t.Errorf("token used after its expiry: %v, want ErrTokenInvalid", err)
	}
	if err := s.Enroll(ctx, h, base.Add(time.Hour-time.Nanosecond), agent("a")); err != nil {
		t.Fatalf("token used just before its expiry: %v", err)
	}

	// An agent ID that exists already fails the whole transaction: the
	// token keeps its use.
	if err := s.Enroll(ctx, h, base, agent("a")); err == nil || errors.Is(err, store.ErrTokenInvalid) {
		t.Errorf("enrolling a duplicate agent ID: %v, want a store error", err)
	}
	if err := s.Enroll(ctx, h, base, agent("b")); err != nil {
		t.Errorf("the token lost a use to a failed enrollment: %v", err)
	}
	if err := s.Enroll(ctx, h, base, agent("c")); !errors.Is(err, store.ErrTokenInvalid) {
		t.Errorf("two-use token admitted a third agent: %v", err)
	}
}

func TestSnapshotsListing(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	enroll(t, s, "agent-1", "web-1")
	enroll(t, s, "agent-2", "web-2")

	// Five snapshots inserted out of capture order, kinds alternating, and
	// two with the same capture time to check the tie-break on id.
	type row struct {
		seq    uint64
		kind   string
		offset time.Duration
	}
	rows := []row{
		{1, "health", 3 * time.Minute},
		{2, "full", 1 * time.Minute},
		{3, "health", 5 * time.Minute},
		{4, "full", 5 * time.Minute},
		{5, "health", 2 * time.Minute},
	}
	ids := map[uint64]int64{}
	for _, r := range rows {
		ids[r.seq] = put(t, s, snapshot("agent-1", 1, r.seq, r.kind, base.Add(r.offset)))
	}
	put(t, s, snapshot("agent-2", 1, 1, "full", base.Add(time.Hour)))

	seqs := func(list []store.Snapshot) []uint64 {
		var out []uint64
		for _, sn := range list {
			out = append(out, sn.Seq)
		}
		return out
	}
	for _, tc := range []struct {
		f    store.SnapshotFilter
		want []uint64
	}{
		{store.SnapshotFilter{}, []uint64{4, 3, 1, 5, 2}},
		{store.SnapshotFilter{Kind: "health"}, []uint64{3, 1, 5}},
		{store.SnapshotFilter{Kind: "full"}, []uint64{4, 2}},
		{store.SnapshotFilter{Limit: 2}, []uint64{4, 3}},
		{store.SnapshotFilter{Kind: "health", Limit: 1}, []uint64{3}},
		{store.SnapshotFilter{Limit: -1}, []uint64{4, 3, 1, 5, 2}},
		{store.SnapshotFilter{Limit: 5000}, []uint64{4, 3, 1, 5, 2}},
		{store.SnapshotFilter{Kind: "nonsense"}, nil},
	} {
		list, err := s.Snapshots(ctx, "agent-1", tc.f)
		if err != nil {
			t.Fatalf("Snapshots(%+v): %v", tc.f, err)
		}
		if got := seqs(list); !slices.Equal(got, tc.want) {
			t.Errorf("Snapshots(%+v) = seqs %v, want %v", tc.f, got, tc.want)
		}
		if list == nil {
			t.Errorf("Snapshots(%+v) returned a nil slice; the API serves it as JSON null", tc.f)
		}
		for _, sn := range list {
			if sn.AgentID != "agent-1" {
				t.Errorf("Snapshots(agent-1) returned a snapshot of %s", sn.AgentID)
			}
			if len(sn.Probes) != 0 {
				t.Errorf("listing carries probe data for seq %d", sn.Seq)
			}
			if sn.ID != ids[sn.Seq] {
				t.Errorf("seq %d listed with id %d, stored as %d", sn.Seq, sn.ID, ids[sn.Seq])
			}
		}
	}

	// The default limit is 100.
	for seq := uint64(100); seq < 220; seq++ {
		put(t, s, snapshot("agent-1", 2, seq, "health", base.Add(time.Duration(seq)*time.Second)))
	}
	for _, limit := range []int{0, 1001} {
		list, err := s.Snapshots(ctx, "agent-1", store.SnapshotFilter{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 100 {
			t.Errorf("Snapshots with limit %d returned %d, want the default 100", limit, len(list))
		}
	}
	list, err := s.Snapshots(ctx, "agent-1", store.SnapshotFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(rows)+120 {
		t.Errorf("Snapshots with limit 1000 returned %d, want %d", len(list), len(rows)+120)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	enroll(t, s, "agent-1", "web-1")

	in := &store.Snapshot{
		Document: protocol.Document{
			AgentID:    "agent-1",
			BootEpoch:  1732400000000,
			Seq:        1 << 40,
			Kind:       "full",
			RequestID:  "req-0123abcd",
			CapturedAt: base.Add(123456789 * time.Nanosecond),
			Probes: []protocol.ProbeJSON{
				{Name: "memory", DurationMS: 0.09, Data: json.RawMessage(`{"total":8589934592,"available":5368709120,"swap":{"total":0,"used":0}}`)},
				{Name: "disk", DurationMS: 3.4, Data: json.RawMessage(`[{"mountpoint":"/","used":42.5,"label":"r\u00e9sum\u00e9 \"quoted\""},{"mountpoint":"/var","used":null}]`)},
				{Name: "services", DurationMS: 95, Error: "systemd is not running"},
				{Name: "time", DurationMS: 0, Data: json.RawMessage(`"2025-03-14T09:26:53Z"`)},
			},
		},
		ReceivedAt: base.Add(2 * time.Second),
	}
	id := put(t, s, in)
	got, err := s.Snapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.AgentID != in.AgentID || got.BootEpoch != in.BootEpoch || got.Seq != in.Seq ||
		got.Kind != in.Kind || got.RequestID != in.RequestID {
		t.Errorf("header: got %+v, want %+v (id %d)", got.Document, in.Document, id)
	}
	if !got.CapturedAt.Equal(in.CapturedAt) || !got.ReceivedAt.Equal(in.ReceivedAt) {
		t.Errorf("times: captured %v received %v, want %v and %v", got.CapturedAt, got.ReceivedAt, in.CapturedAt, in.ReceivedAt)
	}
	if len(got.Probes) != len(in.Probes) {
		t.Fatalf("%d probes back, stored %d", len(got.Probes), len(in.Probes))
	}
	for i, want := range in.Probes {
		p := got.Probes[i]
		if p.Name != want.Name || p.DurationMS != want.DurationMS || p.Error != want.Error {
			t.Errorf("probe %d: got %+v, want %+v", i, p, want)
		}
		if !jsonEqual(t, p.Data, want.Data) {
			t.Errorf("probe %s data: got %s, want %s", want.Name, p.Data, want.Data)
		}
	}

	// Also the full document re-encodes to the same JSON.
	a, _ := json.Marshal(got.Document)
	b, _ := json.Marshal(in.Document)
	if !jsonEqual(t, a, b) {
		t.Errorf("document JSON differs:\n got %s\nwant %s", a, b)
	}
}

// jsonEqual compares two JSON documents by value; nil and empty are equal.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y bytes.Buffer
	if err := json.Compact(&x, a); err != nil {
		t.Errorf("invalid JSON %s: %v", a, err)
		return false
	}
	if err := json.Compact(&y, b); err != nil {
		t.Errorf("invalid JSON %s: %v", b, err)
		return false
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	enroll(t, s, "agent-1", "web-1")
	id := put(t, s, snapshot("agent-1", 1, 1, "health", base))

	if _, err := s.Snapshot(ctx, id+1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Snapshot(unknown id): %v, want ErrNotFound", err)
	}
	if _, err := s.Snapshot(ctx, -1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Snapshot(-1): %v, want ErrNotFound", err)
	}
	if _, err := s.Agent(ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Agent(ghost): %v, want ErrNotFound", err)
	}
	if err := s.SeenAgent(ctx, store.Agent{ID: "ghost", LastSeen: base}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SeenAgent(ghost): %v, want ErrNotFound", err)
	}
	if _, err := s.APIKeyByHash(ctx, hash("no such key")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("APIKeyByHash(unknown): %v, want ErrNotFound", err)
	}
}

func TestAgents(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	enroll(t, s, "agent-b", "zulu")
	enroll(t, s, "agent-a", "alpha")
	enroll(t, s, "agent-c", "alpha")

	a, err := s.Agent(ctx, "agent-b")
	if err != nil {
		t.Fatal(err)
	}
	if a.Facts.Hostname != "zulu" || a.Facts.OS != "linux" || a.Facts.CPUs != 4 || a.AgentVersion != "0.1.0" {
		t.Errorf("enrolled agent: %+v", a)
	}
	if !a.EnrolledAt.Equal(base) || !a.LastSeen.IsZero() || len(a.Probes) != 0 {
		t.Errorf("enrolled agent times/probes: enrolled %v, last seen %v, probes %v", a.EnrolledAt, a.LastSeen, a.Probes)
	}

	// SeenAgent replaces the facts, version and probes.
	seen := base.Add(10 * time.Minute)
	facts := protocol.Facts{Hostname: "aardvark", OS: "linux", KernelVersion: "6.8.0", CPUs: 16, MemoryBytes: 64 << 30, BootTime: 1732400000}
	if err := s.SeenAgent(ctx, store.Agent{ID: "agent-b", Facts: facts, AgentVersion: "0.2.0", Probes: []string{"cpu", "memory"}, LastSeen: seen}); err != nil {
		t.Fatal(err)
	}
	a, err = s.Agent(ctx, "agent-b")
	if err != nil {
		t.Fatal(err)
	}
	if a.Facts != facts || a.AgentVersion != "0.2.0" || !slices.Equal(a.Probes, []string{"cpu", "memory"}) || !a.LastSeen.Equal(seen) {
		t.Errorf("after SeenAgent: %+v", a)
	}
	if !a.EnrolledAt.Equal(base) {
		t.Errorf("SeenAgent changed the enrollment time to %v", a.EnrolledAt)
	}

	// Agents lists by hostname, then ID.
	list, err := s.Agents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	if want := []string{"agent-b", "agent-a", "agent-c"}; !slices.Equal(ids, want) {
		t.Errorf("Agents() = %v, want %v (by hostname aardvark, alpha, alpha)", ids, want)
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	k := store.APIKey{ID: "key-1", Name: "ops dashboard", Role: store.RoleL2, CreatedAt: base}
	if err := s.CreateAPIKey(ctx, k, hash("secret-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAPIKey(ctx, store.APIKey{ID: "key-2", Name: "admin", Role: store.RoleAdmin, CreatedAt: base}, hash("secret-2")); err != nil {
		t.Fatal(err)
	}
	got, err := s.APIKeyByHash(ctx, hash("secret-1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != k.ID || got.Name != k.Name || got.Role != k.Role || !got.CreatedAt.Equal(k.CreatedAt) {
		t.Errorf("APIKeyByHash = %+v, want %+v", got, k)
	}
	if got, err := s.APIKeyByHash(ctx, hash("secret-2")); err != nil || got.ID != "key-2" || got.Role != store.RoleAdmin {
		t.Errorf("APIKeyByHash(secret-2) = %+v, %v", got, err)
	}
	if err := s.CreateAPIKey(ctx, store.APIKey{ID: "key-3", Name: "dup", Role: store.RoleL1, CreatedAt: base}, hash("secret-1")); err == nil {
		t.Error("two keys stored with the same hash")
	}
	if err := s.CreateAPIKey(ctx, store.APIKey{ID: "key-1", Name: "dup", Role: store.RoleL1, CreatedAt: base}, hash("secret-3")); err == nil {
		t.Error("two keys stored with the same ID")
	}
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sonde.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	enroll(t, s, "agent-1", "web-1")
	id := put(t, s, snapshot("agent-1", 1, 1, "full", base))
	h := createToken(t, s, "reusable", 2, base.Add(time.Hour))
	if err := s.CreateAPIKey(ctx, store.APIKey{ID: "key-1", Name: "k", Role: store.RoleL3, CreatedAt: base}, hash("secret")); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	schema := userVersion(t, path)
	if schema < 1 {
		t.Fatalf("user_version is %d after the first open", schema)
	}

	s = open(t, path)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if a, err := s.Agent(ctx, "agent-1"); err != nil || a.Facts.Hostname != "web-1" {
		t.Errorf("agent after reopen: %+v, %v", a, err)
	}
	got, err := s.Snapshot(ctx, id)
	if err != nil || got.Seq != 1 || len(got.Probes) != 1 {
		t.Fatalf("snapshot after reopen: %+v, %v", got, err)
	}
	if _, dup, err := s.PutSnapshot(ctx, snapshot("agent-1", 1, 1, "full", base)); err != nil || !dup {
		t.Errorf("re-put after reopen: duplicate %v, %v; want a duplicate", dup, err)
	}
	if k, err := s.APIKeyByHash(ctx, hash("secret")); err != nil || k.ID != "key-1" {
		t.Errorf("API key after reopen: %+v, %v", k, err)
	}
	// The token kept both its uses.
	admitted := enrollAll(t, s, h, 4, base)
	if len(admitted) != 2 {
		t.Errorf("token after reopen admitted %d, want 2", len(admitted))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	db := rawDB(t, path)
	var check, mode string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if v := userVersion(t, path); v != schema {
		t.Errorf("reopening moved user_version from %d to %d", schema, v)
	}
}

func userVersion(t *testing.T, path string) int {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	var v int
	if err := db.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenPathWithSpecialCharacters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data dir?#%", "sonde.db")
	if s, err := sqlite.Open(t.Context(), path); err == nil {
		s.Close()
		t.Fatalf("opened %s although its directory does not exist", path)
	}
	path = filepath.Join(t.TempDir(), "sonde ?x=1#frag%20.db")
	s := open(t, path)
	enroll(t, s, "agent-1", "web-1")
	if _, err := s.Agent(t.Context(), "agent-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at the path asked: %v", err)
	}
}
