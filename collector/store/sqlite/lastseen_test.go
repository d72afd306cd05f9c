package sqlite_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/protocol"
)

// openSeenEvery opens path with the last-seen times saved every d.
func openSeenEvery(t *testing.T, path string, d time.Duration) *sqlite.Store {
	t.Helper()
	s, err := sqlite.OpenTuned(t.Context(), path, d, time.Second, 4096)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func lastSeenOf(t *testing.T, s *sqlite.Store, id string) time.Time {
	t.Helper()
	a, err := s.Agent(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a.LastSeen
}

func putReceived(t *testing.T, s *sqlite.Store, id string, seq uint64, received time.Time) {
	t.Helper()
	snap := snapshot(id, 1, seq, "health", base)
	snap.ReceivedAt = received
	if _, _, err := s.PutSnapshot(t.Context(), snap); err != nil {
		t.Fatal(err)
	}
}

// TestLastSeenHeldThenSavedAtClose: a snapshot's commit leaves the agent's
// row alone (another store on the same file, which reads the file, sees
// no last-seen time), while the store that took it shows the time at
// once, in Agent and Agents; Close saves it, and a restart reads it back.
func TestLastSeenHeldThenSavedAtClose(t *testing.T) {
	path := t.TempDir() + "/sonde.db"
	s := openSeenEvery(t, path, time.Hour)
	file := open(t, path)
	enroll(t, s, "a1", "host-1")
	at := base.Add(time.Hour)
	putReceived(t, s, "a1", 1, at)

	if got := lastSeenOf(t, s, "a1"); !got.Equal(at) {
		t.Fatalf("Agent: last seen %s right after a snapshot received at %s", got, at)
	}
	list, err := s.Agents(t.Context())
	if err != nil || len(list) != 1 || !list[0].LastSeen.Equal(at) {
		t.Fatalf("Agents: %+v, %v; want last seen %s", list, err, at)
	}
	if got := lastSeenOf(t, file, "a1"); !got.IsZero() {
		t.Fatalf("the file has last seen %s before a flush: the snapshot's commit wrote it", got)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := lastSeenOf(t, file, "a1"); !got.Equal(at) {
		t.Fatalf("the file has last seen %s after Close, want %s", got, at)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
	if got := lastSeenOf(t, open(t, path), "a1"); !got.Equal(at) {
		t.Fatalf("after a restart: last seen %s, want %s", got, at)
	}
}

// TestLastSeenSavedWhileRunning: without a Close, the time reaches the
// file within the flush period, and again when it moves.
func TestLastSeenSavedWhileRunning(t *testing.T) {
	path := t.TempDir() + "/sonde.db"
	s := openSeenEvery(t, path, 20*time.Millisecond)
	file := open(t, path)
	enroll(t, s, "a1", "host-1")
	for i, at := range []time.Time{base.Add(time.Hour), base.Add(2 * time.Hour)} {
		putReceived(t, s, "a1", uint64(i+1), at)
		deadline := time.Now().Add(5 * time.Second)
		for got := lastSeenOf(t, file, "a1"); !got.Equal(at); got = lastSeenOf(t, file, "a1") {
			if time.Now().After(deadline) {
				t.Fatalf("snapshot %d: the file has last seen %s 5 s after one received at %s", i+1, got, at)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestLastSeenAndHello: a hello writes its time to the file at once; the
// later of it and a held snapshot's time is shown, and saved, whichever
// came first.
func TestLastSeenAndHello(t *testing.T) {
	path := t.TempDir() + "/sonde.db"
	s := openSeenEvery(t, path, time.Hour)
	enroll(t, s, "hello-later", "host-1")
	enroll(t, s, "hello-earlier", "host-2")
	putReceived(t, s, "hello-later", 1, base.Add(time.Hour))
	putReceived(t, s, "hello-earlier", 1, base.Add(time.Hour))
	for id, hello := range map[string]time.Time{"hello-later": base.Add(2 * time.Hour), "hello-earlier": base.Add(30 * time.Minute)} {
		if err := s.SeenAgent(t.Context(), store.Agent{ID: id, LastSeen: hello}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]time.Time{"hello-later": base.Add(2 * time.Hour), "hello-earlier": base.Add(time.Hour)}
	for id, at := range want {
		if got := lastSeenOf(t, s, id); !got.Equal(at) {
			t.Errorf("%s: last seen %s, want %s", id, got, at)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := open(t, path)
	for id, at := range want {
		if got := lastSeenOf(t, reopened, id); !got.Equal(at) {
			t.Errorf("%s after a restart: last seen %s, want %s", id, got, at)
		}
	}
}

// TestHelloUnchangedHeld: a hello with the facts, version and probes
// stored already moves last_seen as a snapshot does, held and shown at
// once, saved by the flush (with no snapshot to start one) and at Close;
// one with changed facts is written straight away.
func TestHelloUnchangedHeld(t *testing.T) {
	facts := protocol.Facts{Hostname: "host-9", OS: "linux", CPUs: 8}
	hello := func(s *sqlite.Store, at time.Time) {
		t.Helper()
		if err := s.SeenAgent(t.Context(), store.Agent{ID: "a1", Facts: facts, AgentVersion: "0.3.0", Probes: []string{"cpu"}, LastSeen: at}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("held until Close", func(t *testing.T) {
		path := t.TempDir() + "/sonde.db"
		s := openSeenEvery(t, path, time.Hour)
		file := open(t, path)
		enroll(t, s, "a1", "host-1")
		hello(s, base.Add(time.Hour)) // new facts: written
		if got := lastSeenOf(t, file, "a1"); !got.Equal(base.Add(time.Hour)) {
			t.Fatalf("a hello with new facts: the file has last seen %s", got)
		}
		hello(s, base.Add(2*time.Hour)) // the same: held
		if got := lastSeenOf(t, s, "a1"); !got.Equal(base.Add(2 * time.Hour)) {
			t.Errorf("a hello with the same facts: shown last seen %s", got)
		}
		if got := lastSeenOf(t, file, "a1"); !got.Equal(base.Add(time.Hour)) {
			t.Errorf("a hello with the same facts was written at once: the file has %s", got)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := lastSeenOf(t, file, "a1"); !got.Equal(base.Add(2 * time.Hour)) {
			t.Errorf("after Close the file has last seen %s", got)
		}
	})
	t.Run("saved by the flush", func(t *testing.T) {
		path := t.TempDir() + "/sonde.db"
		s := openSeenEvery(t, path, 20*time.Millisecond)
		file := open(t, path)
		enroll(t, s, "a1", "host-1")
		hello(s, base.Add(time.Hour))
		hello(s, base.Add(2*time.Hour))
		deadline := time.Now().Add(5 * time.Second)
		for got := lastSeenOf(t, file, "a1"); !got.Equal(base.Add(2 * time.Hour)); got = lastSeenOf(t, file, "a1") {
			if time.Now().After(deadline) {
				t.Fatalf("the file has last seen %s 5 s after a hello with the same facts", got)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("unknown agent", func(t *testing.T) {
		s := openSeenEvery(t, t.TempDir()+"/sonde.db", time.Hour)
		if err := s.SeenAgent(t.Context(), store.Agent{ID: "ghost", Facts: facts}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SeenAgent(ghost): %v, want ErrNotFound", err)
		}
	})
}
