// Package auditmark anchors the head of the collector's audit log outside
// its database. The log's hash chain shows a changed or removed row, but
// not the newest rows removed: what is left still chains. So the collector
// signs a checkpoint of the head (entry ID, hash, time) every minute the
// head moves and once at shutdown, appends it to DATA/audit-checkpoints.jsonl,
// writes it to its log and exports it on /metrics; the log and Prometheus
// keep copies off the machine. Check tells whether the chain still holds
// a checkpoint's entry with its hash.
//
// The checkpoints have their own key, DATA/audit-checkpoint.key, rather
// than the bundle signing key: a key per purpose means no signature made
// for a bundle can pass for a checkpoint or the reverse, and either key
// can be rotated without touching what the other signed. Its public key
// travels in every checkpoint and its ID in every log line, for pinning.
package auditmark

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Files in the data dir.
const (
	FileName = "audit-checkpoints.jsonl" // one checkpoint a line, newest last
	KeyFile  = "audit-checkpoint.key"    // Ed25519 seed that signs them (see pki.LoadOrCreateSecret)
)

// Version is the checkpoint format: it is in every checkpoint and in the
// signed message.
const Version = 1

// MaxLine bounds one encoded checkpoint; Decode refuses longer input.
const MaxLine = 1024

// HashSize is the size of an audit entry's hash (SHA-256).
const HashSize = sha256.Size

// Checkpoint is a signed statement that the audit log's entry EntryID had
// hash Hash at At.
type Checkpoint struct {
	V         int       `json:"v"`
	EntryID   int64     `json:"entry_id"`
	Hash      string    `json:"hash"` // hex
	At        time.Time `json:"at"`
	KeyID     string    `json:"key_id"`
	PublicKey string    `json:"public_key"` // base64 Ed25519
	Sig       string    `json:"sig"`        // base64 Ed25519 over message()
}

// ErrSignature is wrapped by every reason to refuse a checkpoint's
// signature.
var ErrSignature = errors.New("audit checkpoint signature refused")

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex (the
// same derivation as bundle.KeyID).
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Make signs a checkpoint of entry id with hash at at.
func Make(key ed25519.PrivateKey, id int64, hash []byte, at time.Time) Checkpoint {
	pub := key.Public().(ed25519.PublicKey)
	c := Checkpoint{V: Version, EntryID: id, Hash: hex.EncodeToString(hash), At: at.UTC(),
		KeyID: KeyID(pub), PublicKey: base64.StdEncoding.EncodeToString(pub)}
	c.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, message(id, hash, c.At)))
	return c
}

// message is what a checkpoint's signature covers: a domain string with
// the version, then fixed-size fields.
func message(id int64, hash []byte, at time.Time) []byte {
	b := fmt.Appendf(nil, "sonde audit checkpoint v%d\x00", Version)
	b = binary.BigEndian.AppendUint64(b, uint64(id))
	b = append(b, hash...)
	return binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
}

// HashBytes returns the checkpoint's hash; nil when it is not valid hex.
func (c Checkpoint) HashBytes() []byte {
	b, err := hex.DecodeString(c.Hash)
	if err != nil {
		return nil
	}
	return b
}

// String names the checkpoint in messages: "checkpoint at entry 42 (2026-01-02T15:04:05Z)".
func (c Checkpoint) String() string {
	return fmt.Sprintf("checkpoint at entry %d (%s)", c.EntryID, c.At.UTC().Format(time.RFC3339))
}

// Verify checks the signature with pub, or with the public key the
// checkpoint carries when pub is nil (which proves only that the
// checkpoint is whole: compare its KeyID with a known one).
func (c Checkpoint) Verify(pub ed25519.PublicKey) error {
	own, err := base64.StdEncoding.DecodeString(c.PublicKey)
	if err != nil || len(own) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key is not a base64 Ed25519 key", ErrSignature)
	}
	if KeyID(own) != c.KeyID {
		return fmt.Errorf("%w: key ID %s does not name its public key", ErrSignature, c.KeyID)
	}
	if pub == nil {
		pub = own
	} else if !bytes.Equal(pub, own) {
		return fmt.Errorf("%w: signed with key %s, not %s", ErrSignature, c.KeyID, KeyID(pub))
	}
	sig, err := base64.StdEncoding.DecodeString(c.Sig)
	hash := c.HashBytes()
	if err != nil || len(sig) != ed25519.SignatureSize || len(hash) != HashSize {
		return fmt.Errorf("%w: malformed signature or hash", ErrSignature)
	}
	if !ed25519.Verify(pub, message(c.EntryID, hash, c.At), sig) {
		return fmt.Errorf("%w: the signature of %s does not verify with key %s", ErrSignature, c, c.KeyID)
	}
	return nil
}

// Encode returns the checkpoint as one JSON line, without the newline.
func (c Checkpoint) Encode() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // a Checkpoint always marshals
	}
	return b
}

// Decode parses one encoded checkpoint and checks its form (not its
// signature: see Verify). It reads at most MaxLine bytes.
func Decode(line []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(line) > MaxLine {
		return c, fmt.Errorf("audit checkpoint: %d bytes, more than %d", len(line), MaxLine)
	}
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return Checkpoint{}, fmt.Errorf("audit checkpoint: %w", err)
	}
	if d.More() {
		return Checkpoint{}, errors.New("audit checkpoint: data after the object")
	}
	switch {
	case c.V != Version:
		return Checkpoint{}, fmt.Errorf("audit checkpoint: version %d, this collector reads %d", c.V, Version)
	case c.EntryID < 1:
		return Checkpoint{}, fmt.Errorf("audit checkpoint: entry ID %d", c.EntryID)
	case len(c.Hash) != 2*HashSize || c.HashBytes() == nil:
		return Checkpoint{}, errors.New("audit checkpoint: hash is not a hex SHA-256")
	case c.At.IsZero() || !time.Unix(0, c.At.UnixNano()).Equal(c.At):
		// The signature covers the time in Unix nanoseconds.
		return Checkpoint{}, errors.New("audit checkpoint: no valid time")
	case c.KeyID == "" || c.PublicKey == "" || c.Sig == "":
		return Checkpoint{}, errors.New("audit checkpoint: unsigned")
	}
	c.At = c.At.UTC()
	return c, nil
}

// ParseAnchor parses an externally kept anchor, "ID:HASH" as a checkpoint
// log line gives them, or "ID" alone (as Prometheus keeps it: then only
// the entry's presence can be checked). hash is nil for "ID".
func ParseAnchor(s string) (id int64, hash []byte, err error) {
	idText, hashText, withHash := strings.Cut(strings.TrimSpace(s), ":")
	id, err = strconv.ParseInt(idText, 10, 64)
	if err != nil || id < 1 {
		return 0, nil, fmt.Errorf("anchor %q: want ENTRY-ID or ENTRY-ID:HASH", s)
	}
	if !withHash {
		return id, nil, nil
	}
	hash, err = hex.DecodeString(hashText)
	if err != nil || len(hash) != HashSize {
		return 0, nil, fmt.Errorf("anchor %q: the hash must be %d hex digits", s, 2*HashSize)
	}
	return id, hash, nil
}
