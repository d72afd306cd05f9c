package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
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
	// The days a flood or the years rotated out of the log, summarized;
	// unreadable, they are left out rather than hide the receipts.
	days, _ := receipt.ReadSummary(state.PublicDir(d))
	if *limit > 0 && len(days) > *limit {
		days = days[len(days)-*limit:]
	}
	printDays(stdout, days)
	if len(list) == 0 {
		if len(days) > 0 {
			return nil
		}
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

// printDays prints the summary of receipts rotated out of the log, a line
// a day, before the receipts themselves.
func printDays(w io.Writer, days []receipt.Day) {
	if len(days) == 0 {
		return
	}
	fmt.Fprintln(w, "Earlier, by day (UTC; the receipts themselves rotated out of the log):")
	for _, d := range days {
		kinds := make([]string, 0, len(d.Kinds))
		for _, k := range slices.Sorted(maps.Keys(d.Kinds)) {
			kinds = append(kinds, fmt.Sprintf("%d %s", d.Kinds[k], render.Clean(k)))
		}
		noun := "snapshots"
		if d.Total() == 1 {
			noun = "snapshot"
		}
		line := fmt.Sprintf("  %s  %d %s (%s), %d left this machine, %d delivered", render.Clean(d.Date), d.Total(), noun,
			strings.Join(kinds, ", "), d.Left, d.Delivered)
		if len(d.Tickets) > 0 || d.OtherTickets > 0 {
			var tickets []string
			for _, t := range slices.Sorted(maps.Keys(d.Tickets)) {
				tickets = append(tickets, fmt.Sprintf("%s (%d)", render.Clean(t), d.Tickets[t]))
			}
			if d.OtherTickets > 0 {
				tickets = append(tickets, fmt.Sprintf("%d for other tickets", d.OtherTickets))
			}
			line += "; for tickets " + strings.Join(tickets, ", ")
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
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
