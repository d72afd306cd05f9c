package app

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/sondehq/sonde/collector/auditmark"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/internal/limitfile"
)

// adminCommand parses an admin command's flags (--data, --json) and opens
// the data dir's store. It refuses a dir without one: listing a mistyped
// --data would otherwise make an empty database there and show nothing.
func adminCommand(ctx context.Context, name, usage string, args []string, stderr io.Writer) (st *sqlite.Store, pos []string, asJSON bool, err error) {
	fs := cliflag.New(name, usage, stderr)
	data := fs.String("data", DefaultData, "data `dir`")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	if pos, err = cliflag.Parse(fs, args); err != nil {
		return nil, nil, false, err
	}
	if _, err := os.Stat(filepath.Join(*data, "sonde.db")); err != nil {
		return nil, nil, false, fmt.Errorf("no database in %s: %w", *data, err)
	}
	st, err = openData(ctx, *data)
	return st, pos, asJSON, err
}

// tokenAdmin lists or revokes enrollment tokens.
func tokenAdmin(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	st, pos, asJSON, err := adminCommand(ctx, "token "+action, "sonde-collector token list|revoke ID [--data DIR] [--json]", args, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	if action == "revoke" {
		if len(pos) != 1 {
			return errors.New("token revoke takes the token's ID, as token list shows it")
		}
		if err := st.RevokeToken(ctx, pos[0]); err != nil {
			return err
		}
		if err := audit(ctx, st, "token revoke", pos[0], ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %s revoked\n", pos[0])
		return nil
	}
	tokens, err := st.Tokens(ctx, time.Now())
	if err != nil {
		return err
	}
	if asJSON {
		if err := json.NewEncoder(stdout).Encode(tokens); err != nil {
			return fmt.Errorf("writing the token list: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSES LEFT\tEXPIRES\tSCOPE\tCREATED BY")
	for _, t := range tokens {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", t.ID, t.Uses, t.ExpiresAt.Local().Format(time.DateTime), t.Scope, t.CreatedBy)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the token list: %w", err)
	}
	return nil
}

// agentAdmin lists or revokes agents. A running collector sees a
// revocation within a second: it closes the agent's connection and refuses
// its handshakes from then on, also after a restart.
func agentAdmin(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	st, pos, asJSON, err := adminCommand(ctx, "agent "+action, "sonde-collector agent list|approve ID|revoke ID [--data DIR] [--json]", args, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	if action == "approve" {
		if len(pos) != 1 {
			return errors.New("agent approve takes one agent ID")
		}
		if err := st.ApproveAgent(ctx, pos[0]); err != nil {
			return fmt.Errorf("%w (or it is not waiting for approval)", err)
		}
		if err := audit(ctx, st, "agent approve", pos[0], ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "agent %s approved: it connects at its next attempt\n", pos[0])
		return nil
	}
	if action == "revoke" {
		if len(pos) != 1 {
			return errors.New("agent revoke takes one agent ID")
		}
		if err := st.RevokeAgent(ctx, pos[0], time.Now()); err != nil {
			return fmt.Errorf("%w (or it is revoked already)", err)
		}
		if err := audit(ctx, st, "agent revoke", pos[0], ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "agent %s revoked: its connection closes within a second and it cannot connect again; enroll the machine anew to bring it back\n", pos[0])
		return nil
	}
	agents, err := st.Agents(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if err := json.NewEncoder(stdout).Encode(agents); err != nil {
			return fmt.Errorf("writing the agent list: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOSTNAME\tSCOPE\tENROLLED\tSTATE")
	for _, a := range agents {
		revoked := "enrolled"
		switch {
		case !a.RevokedAt.IsZero():
			revoked = "revoked " + a.RevokedAt.Local().Format(time.DateTime)
		case a.Pending:
			revoked = "awaiting approval"
		}
		fmt.Fprintf(tw, "%s\t%q\t%s\t%s\t%s\n", a.ID, a.Facts.Hostname, a.Scope, a.EnrolledAt.Local().Format(time.DateTime), revoked)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the agent list: %w", err)
	}
	return nil
}

// auditVerify checks a data dir's audit log directly, without the
// collector: its hash chain, that it still holds the latest signed
// checkpoint (DATA/audit-checkpoints.jsonl, verified with the data dir's
// checkpoint key), and, with --checkpoint, an anchor kept elsewhere (the
// collector's log, Prometheus). It reads only: it leaves no audit entry.
func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("audit verify", "sonde-collector audit verify [--data DIR] [--checkpoint ID[:HASH]]", stderr)
	data := fs.String("data", DefaultData, "data `dir`")
	anchor := fs.String("checkpoint", "", "also check this `anchor`: ID:HASH from an \"audit checkpoint\" log line, or ID alone (sonde_audit_checkpoint_entry_id)")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	var anchorID int64
	var anchorHash []byte
	if *anchor != "" {
		var err error
		if anchorID, anchorHash, err = auditmark.ParseAnchor(*anchor); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(*data, "sonde.db")); err != nil {
		return fmt.Errorf("no database in %s: %w", *data, err)
	}
	st, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	_, broken, err := st.AuditLog(ctx, 1)
	if err != nil {
		return err
	}
	if broken != 0 {
		return fmt.Errorf("audit log TAMPERED: entry %d does not follow from the entries before it", broken)
	}
	head, _, err := st.AuditHead(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "hash chain intact: the log ends at entry %d\n", head)

	if anchorID != 0 {
		s, err := auditmark.Check(ctx, st, anchorID, anchorHash)
		if err != nil {
			return err
		}
		if err := s.Err(fmt.Sprintf("anchor at entry %d", anchorID)); err != nil {
			return err
		}
		if s.Unhashed {
			fmt.Fprintf(stdout, "anchor at entry %d: the entry is there (no hash given to compare)\n", anchorID)
		} else {
			fmt.Fprintf(stdout, "anchor at entry %d: the log still holds it\n", anchorID)
		}
	}
	f := auditmark.File{Path: filepath.Join(*data, auditmark.FileName)}
	seed, err := limitfile.Read(filepath.Join(*data, auditmark.KeyFile), ed25519.SeedSize)
	if err == nil && len(seed) != ed25519.SeedSize {
		err = fmt.Errorf("%d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	if err == nil {
		f.Key = ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	} else {
		fmt.Fprintf(stderr, "warning: no checkpoint key in %s (%v): checking the checkpoint with the key it carries\n", *data, err)
	}
	c, err := f.Latest()
	if errors.Is(err, auditmark.ErrNone) {
		return fmt.Errorf("no audit checkpoint in %s: nothing anchors the log's head (serve writes one every --audit-checkpoint while the log grows, and at shutdown)", f.Path)
	}
	if err != nil {
		return err
	}
	s, err := auditmark.Check(ctx, st, c.EntryID, c.HashBytes())
	if err != nil {
		return err
	}
	if err := s.Err(c.String()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s, key %s: signature good, the log still holds it\n", c, c.KeyID)
	fmt.Fprintln(stdout, "audit log verified")
	return nil
}
