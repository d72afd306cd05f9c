package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/internal/cliflag"
)

// adminCommand parses an admin command's flags (--data, --json) and opens
// the data dir's store.
func adminCommand(ctx context.Context, name, usage string, args []string, stderr io.Writer) (st *sqlite.Store, pos []string, asJSON bool, err error) {
	fs := cliflag.New(name, usage, stderr)
	data := fs.String("data", DefaultData, "data `dir`")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	if pos, err = cliflag.Parse(fs, args); err != nil {
		return nil, nil, false, err
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
		return json.NewEncoder(stdout).Encode(tokens)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSES LEFT\tEXPIRES\tSCOPE\tCREATED BY")
	for _, t := range tokens {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", t.ID, t.Uses, t.ExpiresAt.Local().Format(time.DateTime), t.Scope, t.CreatedBy)
	}
	return tw.Flush()
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
		return json.NewEncoder(stdout).Encode(agents)
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
	return tw.Flush()
}
