package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/sondehq/sonde/agent/receipt"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/internal/render"
)

// receipts shows the end user what was collected and sent.
func receipts(args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("receipts", "sonde-agent receipts [--state DIR] [--limit 50] [--json]", stderr)
	dir := fs.String("state", state.DefaultDir(), "state `dir` (its public folder, "+filepath.Base(state.PublicDir(state.DefaultDir()))+" beside it, holds the receipts)")
	limit := fs.Int("limit", 50, "show the newest this many")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	d := readDir(fs, *dir)
	command := "sonde-agent receipts"
	if d != state.SystemDir() { // root's default, as with sudo
		command += " --state " + quote(d)
	}
	list, err := readReceipts(d, *limit, command)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(list); err != nil {
			return fmt.Errorf("writing the receipts: %w", err)
		}
		return nil
	}
	if len(list) == 0 {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stdout, "nothing collected yet (no agent state in %s)\n", d)
			return nil
		}
		fmt.Fprintln(stdout, "nothing collected yet")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tWHY\tTICKET\tPROBES\tSENT TO\tLEFT THIS MACHINE\tDELIVERED")
	for _, r := range list {
		ticket := r.Ticket
		if ticket == "" {
			ticket = "-"
		}
		left, delivered := outcome(r)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.At.Local().Format(time.DateTime), render.Clean(r.Kind), render.Clean(ticket),
			render.Clean(strings.Join(r.Probes, ",")), render.Clean(r.Collector), left, render.Clean(delivered))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the receipts: %w", err)
	}
	return nil
}

// outcome says whether a receipt's snapshot left this machine, from what
// the agent wrote (receipt.Record), and whether the collector acknowledged
// it, with why not. A receipt of an older agent that records no Sent says
// "not recorded" rather than "no": it was not known.
func outcome(r receipt.Receipt) (left, delivered string) {
	switch {
	case r.Delivered || r.Sent == receipt.SentAll:
		left = "yes"
	case r.Sent == receipt.SentPart:
		left = "partly"
	case r.Sent == receipt.SentNone:
		left = "no"
	default:
		left = "not recorded"
	}
	delivered = "yes"
	if !r.Delivered {
		delivered = "no"
		if r.Error != "" {
			delivered = "no: " + r.Error
		}
	}
	return left, delivered
}

// quote quotes a path for a shell when it needs it.
func quote(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`'"\$`+"`", r) }) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
