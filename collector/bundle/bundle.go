// Package bundle builds and verifies diagnostic bundles: one zip file per
// ticket attachment, holding the redacted snapshot, recent health history,
// what changed, the findings and a report for people, described by a signed
// manifest.
//
// Layout (format sonde-bundle/1):
//
//	manifest.json       versions, agent, times, ticket, every file's SHA-256 and size,
//	                    the redaction report (rules and counts, never a secret)
//	manifest.sig        Ed25519 signature of manifest.json by the collector (base64)
//	snapshot.json       the snapshot (protocol.Document), redacted
//	history.json        recent health snapshots, newest first, redacted
//	diff-previous.json  changes since the previous full snapshot (absent if none)
//	diff-healthy.json   changes since the last snapshot without warnings (absent if none)
//	findings.json       ranked findings with their knowledge-base entries
//	report.html         the same for people: one file, no scripts, opens offline
//	report.txt          the same as plain text
//	ticket.json         handover packages only: the ticket and its timeline
//	timeline.txt        handover packages only: the timeline, notes and steps tried
//
// The zip comment carries a second signature, over every byte of the file
// before it, so that a flipped byte anywhere — even in zip metadata — fails
// verification; manifest.sig keeps extracted files checkable.
package bundle

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/sondehq/sonde/collector/diff"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/protocol"
	"github.com/sondehq/sonde/redact"
)

// Format names this layout; a reader refuses other formats.
const Format = "sonde-bundle/1"

// Input is what a bundle is built from, before redaction.
type Input struct {
	Ticket     string
	AgentID    string
	SnapshotID int64
	Snapshot   *protocol.Document
	// Fresh is false when the agent was offline and Snapshot is the latest
	// stored one; Note says so in the report.
	Fresh bool
	Note  string
	// History holds recent health snapshots, newest first.
	History    []*protocol.Document
	Previous   *protocol.Document // the full snapshot before, or nil
	PreviousID int64
	Healthy    *protocol.Document // the last full snapshot without warnings, or nil
	HealthyID  int64
	KB         *findings.KB
	// Handover, when set, makes the bundle a handover package: the ticket
	// and its whole timeline go in too, for the next tier.
	Handover *Handover
	Redact   redact.Options
	Version  string // the collector's
	Created  time.Time
}

// Handover is the ticket side of a handover package: the ticket, its
// timeline, and the evidence its earlier bundles and imports pinned.
type Handover struct {
	Ticket   ticket.Ticket  `json:"ticket"`
	Events   []ticket.Event `json:"events"`
	Evidence []Pinned       `json:"evidence"`
}

// Pinned is a finding of a ticket's evidence, or of a machine's state now,
// with the snapshot it rests on.
type Pinned struct {
	AgentID    string    `json:"agent_id"`
	SnapshotID int64     `json:"snapshot_id"`
	CapturedAt time.Time `json:"captured_at,omitzero"`
	// BundleID is the bundle that pinned the finding; 0 for an imported
	// snapshot and for the state now.
	BundleID int64 `json:"bundle_id,omitempty"`
	// Change marks where evidence and the state now differ: evidence is
	// "gone" when the machine's latest full snapshot no longer shows it; a
	// finding now is "new" when the machine's evidence lacks it.
	Change string `json:"change,omitempty"`
	Ranked
}

// Kinds of bundle.
const (
	KindBundle   = "bundle"
	KindHandover = "handover"
)

// File is one file of a bundle as the manifest lists it.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest describes a bundle.
type Manifest struct {
	Format     string         `json:"format"`
	Kind       string         `json:"kind"`
	Created    time.Time      `json:"created"`
	Collector  string         `json:"collector_version"`
	Protocol   int            `json:"protocol_version"`
	Ticket     string         `json:"ticket"`
	AgentID    string         `json:"agent_id"`
	Facts      protocol.Facts `json:"facts"`
	SnapshotID int64          `json:"snapshot_id"`
	CapturedAt time.Time      `json:"captured_at"`
	Fresh      bool           `json:"fresh"`
	Note       string         `json:"note,omitempty"`
	Findings   []string       `json:"findings"` // IDs, most severe first
	Files      []File         `json:"files"`
	Redaction  redact.Report  `json:"redaction"`
	Signer     string         `json:"signer"` // KeyID of the signing key
	// Evidence is findings.json as written into the bundle, for the
	// collector to pin to the ticket; it is not part of the manifest.
	Evidence []byte `json:"-"`
}

// KeyID names a signing key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Causes are the findings of warning or worse that a diff's changes may
// explain, most severe first (see diff.Lead).
func Causes(fs []findings.Finding) []diff.Cause {
	var out []diff.Cause
	for _, f := range fs {
		if f.Severity >= findings.Warning {
			out = append(out, diff.Cause{ID: f.ID, Subject: f.Subject})
		}
	}
	return out
}

// Ranked is a finding with its knowledge-base entry, as findings.json holds.
type Ranked struct {
	findings.Finding
	KB *findings.Entry `json:"kb,omitempty"`
}

// Build writes a bundle for in to w, signed with key, and returns its
// manifest and the pseudonym mapping (empty unless pseudonymizing), which
// stays on the collector.
func Build(w io.Writer, in *Input, key ed25519.PrivateKey) (*Manifest, map[string]string, error) {
	if in.Snapshot == nil {
		return nil, nil, errors.New("bundle: no snapshot")
	}
	r := redact.New(in.Redact)
	snap := r.Document(in.Snapshot)
	history := make([]*protocol.Document, len(in.History))
	for i, h := range in.History {
		history[i] = r.Document(h)
	}
	var files []namedFile
	add := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("bundle: %s: %w", name, err)
		}
		files = append(files, namedFile{name, append(b, '\n')})
		return nil
	}
	var prev, healthy *protocol.Document
	if in.Previous != nil {
		prev = r.Document(in.Previous)
	}
	if in.Healthy != nil {
		healthy = r.Document(in.Healthy)
	}
	fs := findings.Analyze(snap, analysisHistory(history, prev, healthy))
	ranked := make([]Ranked, len(fs))
	ids := make([]string, len(fs))
	for i, f := range fs {
		ranked[i].Finding, ids[i] = f, f.ID
		if e, ok := in.KB.Entry(f.ID); ok {
			ranked[i].KB = &e
		}
	}
	var diffPrev, diffHealthy *diff.Diff
	if prev != nil {
		diffPrev = diff.Compare(prev, snap)
		diffPrev.Lead(Causes(fs))
	}
	if healthy != nil {
		diffHealthy = diff.Compare(healthy, snap)
		diffHealthy.Lead(Causes(fs))
	}
	for _, f := range []struct {
		name string
		v    any
		skip bool
	}{
		{"snapshot.json", snap, false},
		{"history.json", history, false},
		{"diff-previous.json", diffPrev, diffPrev == nil},
		{"diff-healthy.json", diffHealthy, diffHealthy == nil},
		{"findings.json", ranked, false},
	} {
		if !f.skip {
			if err := add(f.name, f.v); err != nil {
				return nil, nil, err
			}
		}
	}
	m := &Manifest{
		Format: Format, Kind: KindBundle, Created: in.Created.UTC(), Collector: in.Version, Protocol: protocol.Version,
		Ticket: in.Ticket, AgentID: in.AgentID, SnapshotID: in.SnapshotID, CapturedAt: snap.CapturedAt,
		Fresh: in.Fresh, Note: in.Note, Findings: ids, Signer: KeyID(key.Public().(ed25519.PublicKey)),
	}
	if snap.Facts != nil {
		m.Facts = *snap.Facts
	}
	for _, f := range files {
		if f.name == "findings.json" {
			m.Evidence = f.data
		}
	}
	var handover *Handover
	if in.Handover != nil {
		m.Kind = KindHandover
		// Engineers paste logs and command lines into notes: redact them.
		h := *in.Handover
		h.Ticket.Title = r.TextAt(h.Ticket.Title, "ticket.title")
		h.Events = make([]ticket.Event, len(in.Handover.Events))
		for i, ev := range in.Handover.Events {
			ev.Text = r.TextAt(ev.Text, "ticket.timeline")
			h.Events[i] = ev
		}
		// Evidence from imported snapshots was never redacted; what does
		// not survive redaction stays out.
		h.Evidence = nil
		if b, err := json.Marshal(in.Handover.Evidence); err == nil {
			if json.Unmarshal(r.JSON(b), &h.Evidence) != nil {
				h.Evidence = nil
			}
		}
		handover = &h
		if err := add("ticket.json", handover); err != nil {
			return nil, nil, err
		}
		files = append(files, namedFile{"timeline.txt", timelineText(handover)})
	}
	rep := &report{M: m, Handover: handover, Snapshot: snap, History: history, Findings: ranked, DiffPrevious: diffPrev, DiffHealthy: diffHealthy,
		PreviousID: in.PreviousID, HealthyID: in.HealthyID}
	html, text, err := rep.render()
	if err != nil {
		return nil, nil, err
	}
	files = append(files, namedFile{"report.html", html}, namedFile{"report.txt", text})
	// The report counts toward the redaction report too: take it last.
	m.Redaction = r.Report()
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		m.Files = append(m.Files, File{Name: f.name, Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:])})
	}
	if err := write(w, m, files, key); err != nil {
		return nil, nil, err
	}
	return m, r.Mapping(), nil
}

// analysisHistory is what the findings of a bundle rest on besides its
// snapshot: the health samples, and the previous and last healthy full
// snapshots, which alone hold what a health sample lacks (the ports
// listened on, a walk of a full disk), newest first.
func analysisHistory(health []*protocol.Document, fulls ...*protocol.Document) []*protocol.Document {
	out := slices.Clone(health)
	for _, f := range fulls {
		if f != nil && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b *protocol.Document) int { return b.CapturedAt.Compare(a.CapturedAt) })
	return out
}

type namedFile struct {
	name string
	data []byte
}

// sigComment is the zip comment's form: a prefix and a base64 signature,
// always the same length so it can be written before it is known.
const sigPrefix = "sonde-bundle-signature:"

var sigLen = len(sigPrefix) + base64.StdEncoding.EncodedLen(ed25519.SignatureSize)

func write(w io.Writer, m *Manifest, files []namedFile, key ed25519.PrivateKey) error {
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the manifest: %w", err)
	}
	manifest = append(manifest, '\n')
	mSig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, manifest))
	sort.SliceStable(files, func(i, j int) bool { return order(files[i].name) < order(files[j].name) })
	all := append([]namedFile{{"manifest.json", manifest}, {"manifest.sig", []byte(mSig + "\n")}}, files...)

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range all {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: m.Created})
		if err != nil {
			return fmt.Errorf("adding %s: %w", f.name, err)
		}
		if _, err := fw.Write(f.data); err != nil {
			return fmt.Errorf("adding %s: %w", f.name, err)
		}
	}
	if err := zw.SetComment(string(make([]byte, sigLen))); err != nil {
		return fmt.Errorf("building the zip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("building the zip: %w", err)
	}
	b := buf.Bytes()
	body := b[:len(b)-sigLen]
	sig := sigPrefix + base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))
	copy(b[len(b)-sigLen:], sig)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing the bundle: %w", err)
	}
	return nil
}

var fileOrder = map[string]int{"report.html": 1, "report.txt": 2, "timeline.txt": 3, "ticket.json": 4, "findings.json": 5,
	"snapshot.json": 6, "diff-previous.json": 7, "diff-healthy.json": 8, "history.json": 9}

func order(name string) int { return fileOrder[name] }
