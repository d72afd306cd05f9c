// Package app holds the sonde-collector commands: serve, token, apikey.
package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/pki"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/internal/version"
)

const usage = `sonde-collector: the Sonde collector

commands:
  serve [--data DIR] [--quic ADDR] [--http ADDR]   run the collector
  token create [--ttl 1h] [--uses 1] [--scope S]  make an agent enrollment token
  token list | token revoke ID                     list usable tokens; revoke one
  agent list | agent approve ID | agent revoke ID  list agents; let a new one in (with serve --require-approval);
                                                   revoke one (refused at once, for good)
  apikey create NAME --role l1|l2|l3|admin         make an API key for the L2 API
  audit verify [--checkpoint ID[:HASH]]            check the audit log's hash chain and that it still
                                                   holds its latest signed checkpoint (and an anchor)
  version                                          print the version

Run "sonde-collector COMMAND -h" for a command's flags.
`

// DefaultData is the default data dir.
const DefaultData = "./sonde-data"

// Main runs the command in args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := run(ctx, args, stdout, stderr)
	return cliflag.ExitCode(err, "sonde-collector", usage, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return cliflag.ErrUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, stderr)
	case "token":
		switch {
		case len(rest) > 0 && rest[0] == "create":
			return tokenCreate(ctx, rest[1:], stdout, stderr)
		case len(rest) > 0 && (rest[0] == "list" || rest[0] == "revoke"):
			return tokenAdmin(ctx, rest[0], rest[1:], stdout, stderr)
		}
		return errors.New("usage: sonde-collector token create|list|revoke [--data DIR]")
	case "agent":
		if len(rest) > 0 && (rest[0] == "list" || rest[0] == "revoke" || rest[0] == "approve") {
			return agentAdmin(ctx, rest[0], rest[1:], stdout, stderr)
		}
		return errors.New("usage: sonde-collector agent list|approve ID|revoke ID [--data DIR]")
	case "apikey":
		if len(rest) == 0 || rest[0] != "create" {
			return fmt.Errorf("usage: sonde-collector apikey create NAME --role l1|l2|l3|admin [--data DIR]")
		}
		return apikeyCreate(ctx, rest[1:], stdout, stderr)
	case "audit":
		if len(rest) == 0 || rest[0] != "verify" {
			return errors.New("usage: sonde-collector audit verify [--data DIR] [--checkpoint ID[:HASH]]")
		}
		return auditVerify(ctx, rest[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "sonde-collector", version.Version, version.Revision())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n", cmd)
		return cliflag.ErrUsage
	}
}

// openData opens the data dir's store, making the dir if needed.
func openData(ctx context.Context, dir string) (*sqlite.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(dir, "sonde.db"))
}

func randomKey(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func tokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("token create", "sonde-collector token create [--data DIR] [--ttl 1h] [--uses 1] [--json]", stderr)
	data := fs.String("data", DefaultData, "data `dir`")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	uses := fs.Int("uses", 1, "how many agents may enroll with it")
	scope := fs.String("scope", "", "a label the agents enrolled with it carry (site, team, fleet)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	if *ttl <= 0 || *uses < 1 {
		return errors.New("--ttl must be positive and --uses at least 1")
	}
	ca, _, err := pki.LoadOrCreate(*data)
	if err != nil {
		return err
	}
	st, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	token := randomKey("")
	now := time.Now()
	t := store.Token{Hash: ingest.TokenHash(token), CreatedAt: now, ExpiresAt: now.Add(*ttl), Uses: *uses, CreatedBy: "local:" + currentUser(), Scope: *scope}
	if err := st.CreateToken(ctx, t); err != nil {
		return err // "storing enrollment token: ..."
	}
	if err := audit(ctx, st, "token create", hex.EncodeToString(t.Hash)[:12], fmt.Sprintf("uses %d, ttl %s, scope %q", t.Uses, *ttl, t.Scope)); err != nil {
		return err
	}
	if *asJSON {
		err := json.NewEncoder(stdout).Encode(map[string]any{
			"token": token, "ca_pin": ca.Pin(), "expires_at": t.ExpiresAt.UTC(), "uses": t.Uses,
		})
		if err != nil {
			return fmt.Errorf("writing the token: %w", err)
		}
		return nil
	}
	fmt.Fprintf(stdout, "token:   %s\nca-pin:  %s\nexpires: %s (%d use(s))\n\nenroll an agent with:\n  sonde-agent enroll --collector HOST:7443 --token %s --ca-pin %s\n",
		token, ca.Pin(), t.ExpiresAt.Format(time.RFC3339), t.Uses, token, ca.Pin())
	return nil
}

// audit records a local command in the audit log.
func audit(ctx context.Context, st store.Store, action, target, detail string) error {
	// The store's error says "appending ACTION to the audit log: ...".
	return st.Audit(ctx, store.AuditEntry{Actor: "local:" + currentUser(), Action: action, Target: target, Detail: detail})
}

// currentUser names who runs a local command, for the audit log: the
// account's name, and under sudo the user who ran sudo, so that
// "sudo sonde-collector apikey create" is on the record as
// "alice (sudo as root)", not as root or uid 0.
func currentUser() string {
	u, err := user.Current()
	return userName(u, err, os.Getenv, os.Getuid())
}

// userName is currentUser's logic, given what the system said.
func userName(u *user.User, err error, getenv func(string) string, uid int) string {
	name := ""
	if err == nil && u != nil {
		name = u.Username
	}
	if name == "" {
		name = getenv("USER")
	}
	if name == "" {
		name = fmt.Sprint(uid)
	}
	// SUDO_USER is only the environment's word; it is not security
	// relevant, since whoever runs these commands can write the database.
	if sudo := getenv("SUDO_USER"); sudo != "" && sudo != name {
		return sudo + " (sudo as " + name + ")"
	}
	return name
}

func apikeyCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("apikey create", "sonde-collector apikey create NAME --role l1|l2|l3|admin [--data DIR] [--json]", stderr)
	data := fs.String("data", DefaultData, "data `dir`")
	role := fs.String("role", "", "the key's role: l1, l2, l3 or admin")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := cliflag.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("apikey create takes one NAME, e.g. apikey create alice --role l2")
	}
	if store.RoleRank(*role) == 0 {
		return fmt.Errorf("--role must be one of l1, l2, l3, admin (got %q)", *role)
	}
	st, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	key := randomKey("sonde_")
	k := store.APIKey{ID: key[len("sonde_") : len("sonde_")+8], Name: pos[0], Role: *role, CreatedAt: time.Now()}
	if err := st.CreateAPIKey(ctx, k, api.HashKey(key)); err != nil {
		return err // "storing API key NAME: ..."
	}
	if err := audit(ctx, st, "apikey create", k.ID, fmt.Sprintf("name %q, role %s", k.Name, k.Role)); err != nil {
		return err
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(map[string]any{"key": key, "id": k.ID, "name": k.Name, "role": k.Role}); err != nil {
			return fmt.Errorf("writing the API key: %w", err)
		}
		return nil
	}
	fmt.Fprintf(stdout, "%s\n", key)
	fmt.Fprintf(stderr, "API key %q (role %s) created; it is shown once. Use it as:\n  export SONDE_TOKEN=%s\n", k.Name, k.Role, key)
	return nil
}

func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}
