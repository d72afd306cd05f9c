package auditmark

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sondehq/sonde/collector/pki"
)

// Keeper signs and keeps the checkpoints of a running collector. It is a
// prometheus.Collector of the latest checkpoint.
//
// Once the chain no longer holds the latest checkpoint's entry (rows
// deleted or rewritten), the keeper logs it as an error, sets
// sonde_audit_checkpoint_ok to 0 and writes no more checkpoints, so that
// the evidence stays the latest: move the checkpoint file aside and
// restart to start anew (after restoring the database from a backup, say).
type Keeper struct {
	file  File
	key   ed25519.PrivateKey
	chain Chain
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	last    *Checkpoint
	alarmed bool

	entryID, at, ok prometheus.Gauge
}

var _ prometheus.Collector = (*Keeper)(nil)

// Open makes the keeper of data dir dir: it loads the checkpoint key
// (making it on first start), reads the latest checkpoint and checks it
// against ch, logging what it finds.
func Open(ctx context.Context, dir string, ch Chain, log *slog.Logger) (*Keeper, error) {
	seed, err := pki.LoadOrCreateSecret(dir, KeyFile)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint key: %w", err)
	}
	k := New(ed25519.NewKeyFromSeed(seed[:]), filepath.Join(dir, FileName), ch, log)
	return k, k.Load(ctx)
}

// New returns a keeper that signs with key and appends to the file at
// path. Load reads what the file holds already.
func New(key ed25519.PrivateKey, path string, ch Chain, log *slog.Logger) *Keeper {
	if log == nil {
		log = slog.Default()
	}
	k := &Keeper{
		file: File{Path: path, Key: key.Public().(ed25519.PublicKey)}, key: key, chain: ch, log: log, now: time.Now,
		entryID: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sonde_audit_checkpoint_entry_id", Help: "Audit log entry ID of the latest signed checkpoint of the log's head.",
		}),
		at: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sonde_audit_checkpoint_timestamp_seconds", Help: "Time of the latest signed checkpoint of the audit log's head.",
		}),
		ok: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sonde_audit_checkpoint_ok", Help: "1 while the audit log holds the latest checkpoint's entry with its hash; 0 once rows it covers are deleted or changed.",
		}),
	}
	k.ok.Set(1)
	return k
}

// File is where the keeper writes, with the key its checkpoints verify with.
func (k *Keeper) File() File { return k.file }

// Load reads the latest checkpoint of the file and checks the chain
// against it. A checkpoint that does not verify with the keeper's key
// (forged, or signed with an earlier key) is logged and left aside: the
// next Mark writes a new one.
func (k *Keeper) Load(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.file.Latest()
	switch {
	case errors.Is(err, ErrNone):
		return nil
	case err != nil:
		k.log.Error("audit checkpoint: the latest checkpoint is refused and not checked; a new one follows", "file", k.file.Path, "err", err)
		return nil
	}
	k.last = &c
	k.entryID.Set(float64(c.EntryID))
	k.at.Set(float64(c.At.UnixNano()) / 1e9)
	if err := k.check(ctx); err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrChanged) {
		return fmt.Errorf("checking the audit log against its latest checkpoint: %w", err)
	}
	if !k.alarmed {
		k.log.Info("audit log holds its latest checkpoint", "entry_id", c.EntryID, "at", c.At, "key_id", c.KeyID)
	}
	return nil
}

// check compares the chain with the latest checkpoint; it logs the first
// failure as an error.
func (k *Keeper) check(ctx context.Context) error {
	s, err := Check(ctx, k.chain, k.last.EntryID, k.last.HashBytes())
	if err != nil {
		return err
	}
	bad := s.Err(k.last.String())
	if bad == nil {
		k.ok.Set(1)
		return nil
	}
	k.ok.Set(0)
	if !k.alarmed {
		k.alarmed = true
		k.log.Error(bad.Error(), "entry_id", k.last.EntryID, "hash", k.last.Hash, "head_id", s.HeadID,
			"note", "no new audit checkpoints until "+k.file.Path+" is moved aside and the collector restarted")
	}
	return bad
}

// Mark checks the chain against the latest checkpoint and, when the head
// moved since, signs a checkpoint of the new head, appends it to the file
// (synced) and logs it. It writes nothing for an empty log, and nothing
// once a check failed (see Keeper).
func (k *Keeper) Mark(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.last != nil {
		if err := k.check(ctx); err != nil {
			return err
		}
	}
	id, hash, err := k.chain.AuditHead(ctx)
	if err != nil {
		return fmt.Errorf("reading the audit log's head: %w", err)
	}
	if id == 0 || k.last != nil && k.last.EntryID == id && k.last.Hash == hex.EncodeToString(hash) {
		return nil
	}
	c := Make(k.key, id, hash, k.now())
	if err := Append(k.file.Path, c); err != nil {
		return err
	}
	// The log line is a whole checkpoint: it can be checked against the
	// database later (sonde audit --checkpoint ID:HASH) from wherever the
	// log was shipped.
	k.log.Info("audit checkpoint", "entry_id", c.EntryID, "hash", c.Hash, "at", c.At, "key_id", c.KeyID, "sig", c.Sig)
	k.last = &c
	k.entryID.Set(float64(c.EntryID))
	k.at.Set(float64(c.At.UnixNano()) / 1e9)
	return nil
}

// Run marks at once and then every interval until ctx ends. The caller
// marks once more at shutdown.
func (k *Keeper) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		err := k.Mark(ctx)
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrChanged) {
			k.log.Warn("audit checkpoint", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Describe implements prometheus.Collector.
func (k *Keeper) Describe(ch chan<- *prometheus.Desc) {
	k.entryID.Describe(ch)
	k.at.Describe(ch)
	k.ok.Describe(ch)
}

// Collect implements prometheus.Collector.
func (k *Keeper) Collect(ch chan<- prometheus.Metric) {
	k.entryID.Collect(ch)
	k.at.Collect(ch)
	k.ok.Collect(ch)
}
