package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/auditmark"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/internal/render"
	"github.com/sondehq/sonde/internal/version"
)

const usage = `sonde: the L2 engineer's command line for Sonde

commands:
  whoami [--json]                               your API key's name and role, and what it shows you
  agents [--json]                               list agents and whether they are online
  snapshot AGENT [--probes a,b] [--process NAME,...] [--fresh] [--json]
                                                take a snapshot of a machine now; --process finds
                                                processes by name, with their command lines; --fresh
                                                runs the probes anew even if they ran seconds ago
  snapshots AGENT [--kind full|health] [--json] list a machine's stored snapshots
  show SNAPSHOT-ID [--json]                     print a stored snapshot
  diff AGENT [--from X] [--to Y] [--json]       what changed between two snapshots
  bundle AGENT --ticket REF [-o FILE]           build and attach a diagnostic bundle (and download it)
  bundle verify FILE                            check a bundle's signatures and checksums
  import FILE --ticket REF [--agent AGENT]      file a snapshot taken offline (sonde-agent snapshot -o FILE)
  audit [--verify [--since-checkpoint]] [--json]
                                                who did what; checks the log's hash chain and its
                                                latest signed checkpoint (admin)
  alerts [--agent AGENT] [--json]               current alerts, firing and pending, and their silences
  silence add --match k=v,... --for 2h [--comment TEXT] | list | expire ID
                                                mute alert notifications (l2)
  ticket open|list|show|note|assign|start|escalate|resolve|close|reopen|link
                                                work tickets, and link them to the customer's
                                                helpdesk (sonde ticket for details)
  version                                       print the version

AGENT is an agent ID or a unique hostname.
Environment: SONDE_URL (default ` + DefaultURL + `), SONDE_TOKEN (an API key).
`

// Main runs the command in args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := run(ctx, args, stdout, stderr)
	return cliflag.ExitCode(err, "sonde", usage, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return cliflag.ErrUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version":
		fmt.Fprintln(stdout, "sonde", version.Version, version.Revision())
		return nil
	}
	commands := map[string]func(context.Context, *Client, []string, io.Writer, io.Writer) error{
		"whoami":    whoami,
		"agents":    agents,
		"snapshot":  snapshot,
		"snapshots": snapshots,
		"show":      show,
		"ticket":    tickets,
		"diff":      diffCmd,
		"import":    importCmd,
		"audit":     auditCmd,
		"alerts":    alertsCmd,
		"silence":   silenceCmd,
	}
	if cmd == "bundle" {
		return bundles(ctx, nil, rest, stdout, stderr)
	}
	f, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(stderr, "unknown command %q\n\n", cmd)
		return cliflag.ErrUsage
	}
	c, err := NewClient(os.Getenv("SONDE_URL"), os.Getenv("SONDE_TOKEN"))
	if err != nil {
		return err
	}
	return f(ctx, c, rest, stdout, stderr)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("printing JSON: %w", err)
	}
	return nil
}

// flush writes out a listing.
func flush(tw *tabwriter.Writer) error {
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing the listing: %w", err)
	}
	return nil
}

func whoami(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("whoami", "sonde whoami [--json]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	var me api.Me
	if err := c.Do(ctx, "GET", "/api/v1/me", nil, &me); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, me)
	}
	view := "findings' titles and plain steps, machines' facts and tickets' state (no raw machine data)"
	if me.Evidence {
		view = "everything: snapshots, evidence, diffs and bundles"
	}
	fmt.Fprintf(stdout, "%s, role %s: you see %s\n", render.Clean(me.Name), me.Role, view)
	return nil
}

func agents(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("agents", "sonde agents [--json]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	var list []api.AgentView
	if err := c.Do(ctx, "GET", "/api/v1/agents", nil, &list); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no agents enrolled yet (sonde-collector token create, then sonde-agent enroll)")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOSTNAME\tOS\tSTATE\tTRANSPORT\tLAST SEEN\tVERSION")
	now := time.Now()
	for _, a := range list {
		st := "offline"
		if a.Online {
			st = "online"
		}
		osName := a.Facts.Platform + " " + a.Facts.PlatformVersion
		if a.Facts.Platform == "" {
			osName = a.Facts.OS
		}
		tr := "-"
		if a.Online && a.Transport != "" {
			tr = strings.ToUpper(render.Clean(a.Transport)) // as sonde-agent status and the UI write it
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, render.Clean(a.Facts.Hostname), render.Clean(osName), st, tr,
			ago(a.LastSeen, now), render.Clean(a.AgentVersion))
	}
	return flush(tw)
}

func oneAgent(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := cliflag.Parse(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", errors.New("name one AGENT (an ID or a unique hostname)")
	}
	return pos[0], nil
}

func snapshot(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("snapshot", "sonde snapshot AGENT [--probes a,b] [--process NAME[,NAME...]] [--fresh] [--user-agreed] [--timeout 30s] [--json]", stderr)
	var probes, processes cliflag.List
	fs.Var(&probes, "probes", "probes to run, comma-separated (default: all)")
	fs.Var(&processes, "process", "find these processes by name (process or executable file name, any case), comma-separated or repeated: the processes probe lists them with their command lines")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the agent")
	fresh := fs.Bool("fresh", false, "run the probes anew, within the agent's budget, even if they ran seconds ago (without it, the agent may answer with that run)")
	agreed := fs.Bool("user-agreed", false, "only when the end user agreed (e.g. on the phone): run heavy probes (logs, software, storage health, disk walk) even on a battery below the agent's battery_floor, which holds them back otherwise")
	asJSON := fs.Bool("json", false, "print JSON")
	agent, err := oneAgent(fs, args)
	if err != nil {
		return err
	}
	var snap api.SnapshotView
	if len(processes) > 0 && len(probes) > 0 && !slices.Contains(probes, "processes") {
		probes = append(probes, "processes") // the probe that finds them
	}
	req := api.SnapshotRequest{Probes: probes, Processes: processes, Timeout: timeout.String(), Fresh: *fresh, UserAgreed: *agreed}
	var ans struct {
		store.Snapshot
		Shared bool `json:"shared"`
	}
	if err := c.Do(ctx, "POST", "/api/v1/agents/"+url.PathEscape(agent)+"/snapshots", req, &ans); err != nil {
		return err
	}
	snap.Snapshot = ans.Snapshot
	if ans.Shared && !*asJSON {
		fmt.Fprintf(stdout, "shared: the machine is being asked for more than its limit, so this is the snapshot it took %s before for another request (--fresh asks it again)\n",
			render.Duration(time.Since(ans.CapturedAt).Round(100*time.Millisecond)))
	}
	return printSnapshot(stdout, &snap, *asJSON, time.Now())
}

// printSnapshot prints a stored snapshot for people at time now, in
// units, with its process list's age (render.Snapshot); as JSON, the
// collector's answer as it came.
func printSnapshot(w io.Writer, snap *api.SnapshotView, asJSON bool, now time.Time) error {
	if asJSON {
		return printJSON(w, snap)
	}
	fmt.Fprintf(w, "stored as snapshot %d%s\n", snap.ID, marks(&snap.Snapshot))
	if err := render.Snapshot(w, &snap.Document, snap.Age(), now); err != nil {
		return fmt.Errorf("snapshot %d: %w", snap.ID, err)
	}
	return nil
}

// marks says what a stored snapshot is not: delivered by its agent, or
// captured when the agent's clock said.
func marks(s *store.Snapshot) string {
	var m string
	if s.Imported {
		m += " (imported from a file, not delivered by the agent)"
	}
	if !s.AgentCapturedAt.IsZero() {
		m += fmt.Sprintf(" (clock adjusted: the agent's clock said %s)", render.Stamp(s.AgentCapturedAt))
	}
	return m
}

func snapshots(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("snapshots", "sonde snapshots AGENT [--kind full|health] [--limit 20] [--json]", stderr)
	kind := fs.String("kind", "", "only this kind: full or health")
	limit := fs.Int("limit", 20, "at most this many")
	asJSON := fs.Bool("json", false, "print JSON")
	agent, err := oneAgent(fs, args)
	if err != nil {
		return err
	}
	q := url.Values{"limit": {fmt.Sprint(*limit)}}
	if *kind != "" {
		q.Set("kind", *kind)
	}
	var list []store.Snapshot
	if err := c.Do(ctx, "GET", "/api/v1/agents/"+url.PathEscape(agent)+"/snapshots?"+q.Encode(), nil, &list); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tCAPTURED\tRECEIVED\tSEQ\tSOURCE")
	now := time.Now()
	for _, s := range list {
		source := "agent"
		if s.Imported {
			source = "imported"
		}
		if !s.AgentCapturedAt.IsZero() {
			source += ", clock adjusted"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.Kind, render.Time(s.CapturedAt, now),
			render.Stamp(s.ReceivedAt), s.Seq, source)
	}
	return flush(tw)
}

func show(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("show", "sonde show SNAPSHOT-ID [--json]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := cliflag.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("name one SNAPSHOT-ID (sonde snapshots AGENT lists them)")
	}
	id := pos[0]
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return fmt.Errorf("snapshot ID %q is not a number (sonde snapshots AGENT lists them)", render.Clean(id))
	}
	var snap api.SnapshotView
	if err := c.Do(ctx, "GET", "/api/v1/snapshots/"+url.PathEscape(id), nil, &snap); err != nil {
		return err
	}
	return printSnapshot(stdout, &snap, *asJSON, time.Now())
}

func diffCmd(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("diff", "sonde diff AGENT [--from ID|TIME|AGO] [--to ID|TIME|AGO] [--json]", stderr)
	from := fs.String("from", "", "older snapshot: an ID, an RFC 3339 time or a duration ago such as 24h (default: the full snapshot before --to)")
	to := fs.String("to", "", "newer snapshot, same forms (default: the latest full snapshot)")
	asJSON := fs.Bool("json", false, "print JSON")
	agent, err := oneAgent(fs, args)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *from != "" {
		q.Set("from", *from)
	}
	if *to != "" {
		q.Set("to", *to)
	}
	var d api.DiffView
	if err := c.Do(ctx, "GET", "/api/v1/agents/"+url.PathEscape(agent)+"/diff?"+q.Encode(), nil, &d); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, d)
	}
	fmt.Fprintf(stdout, "changes from snapshot %d%s to snapshot %d%s\n", d.FromID, imported(d.FromImported), d.ToID, imported(d.ToImported))
	if err := d.Diff.Text(stdout); err != nil {
		return fmt.Errorf("agent %s: %w", agent, err)
	}
	return nil
}

func imported(b bool) string {
	if b {
		return " (imported)"
	}
	return ""
}

func auditCmd(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("audit", "sonde audit [--verify [--since-checkpoint] [--checkpoint ID[:HASH]]] [--limit 50] [--json]", stderr)
	verify := fs.Bool("verify", false, "fail unless the whole hash chain is intact")
	sinceCheckpoint := fs.Bool("since-checkpoint", false, "also fail unless the log still holds the collector's latest signed checkpoint of its head (newest rows deleted, or rows rewritten, up to it)")
	anchor := fs.String("checkpoint", "", "also fail unless the log still holds this `anchor`: ID:HASH from an \"audit checkpoint\" line of the collector's log, or ID alone (sonde_audit_checkpoint_entry_id)")
	keyID := fs.String("checkpoint-key", "", "with --since-checkpoint, require the checkpoint to be signed by the key with this `ID` (as the collector logs it)")
	limit := fs.Int("limit", 50, "show this many of the newest entries")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	*sinceCheckpoint = *sinceCheckpoint || *keyID != ""
	var anchorID int64
	var anchorHash []byte
	path := fmt.Sprintf("/api/v1/audit?limit=%d", *limit)
	if *anchor != "" {
		var err error
		if anchorID, anchorHash, err = auditmark.ParseAnchor(*anchor); err != nil {
			return fmt.Errorf("--checkpoint: %w", err)
		}
		path += fmt.Sprintf("&anchor=%d", anchorID)
	}
	var v api.AuditView
	if err := c.Do(ctx, "GET", path, nil, &v); err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(stdout, v); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTIME\tACTOR\tACTION\tTARGET\tRESULT")
		for _, e := range v.Entries {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.Local().Format(time.DateTime), render.Clean(e.Actor),
				render.Clean(e.Action), render.Clean(e.Target), render.Clean(e.Detail))
		}
		tw.Flush()
	}
	if !v.Intact {
		return fmt.Errorf("audit log TAMPERED: entry %d does not follow from the entries before it", v.BrokenAt)
	}
	checked := "the hash chain is intact"
	if anchorID != 0 {
		s := auditmark.Status{EntryID: anchorID, HeadID: v.HeadID, Unhashed: anchorHash == nil,
			Truncated: v.AnchorHash == "", Changed: anchorHash != nil && v.AnchorHash != hex.EncodeToString(anchorHash)}
		if err := s.Err(fmt.Sprintf("anchor at entry %d", anchorID)); err != nil {
			return err
		}
		checked += fmt.Sprintf("; it holds the anchor at entry %d", anchorID)
		if s.Unhashed {
			checked += " (its presence only: no hash given)"
		}
	}
	if *sinceCheckpoint {
		cp := v.Checkpoint
		if cp == nil {
			return fmt.Errorf("no audit checkpoint to verify against: %s", render.Clean(v.CheckpointProblem))
		}
		if *keyID != "" && cp.KeyID != *keyID {
			return fmt.Errorf("audit checkpoint refused: the %s is signed with key %s, not %s", cp, render.Clean(cp.KeyID), *keyID)
		}
		// The collector checked the signature with its key; check it here
		// too, with the key the checkpoint names.
		if err := cp.Verify(nil); err != nil {
			return err
		}
		if !v.CheckpointOK {
			if v.CheckpointProblem == "" {
				v.CheckpointProblem = "audit checkpoint refused by the collector"
			}
			return errors.New(render.Clean(v.CheckpointProblem))
		}
		checked += fmt.Sprintf("; it holds the signed %s, key %s; the log now ends at entry %d", cp, cp.KeyID, v.HeadID)
	} else if v.Checkpoint != nil && !v.CheckpointOK {
		fmt.Fprintf(stderr, "warning: %s (sonde audit --verify --since-checkpoint fails on it)\n", render.Clean(v.CheckpointProblem))
	}
	if *verify || *sinceCheckpoint || anchorID != 0 {
		fmt.Fprintln(stderr, "audit log verified:", checked)
	}
	return nil
}
