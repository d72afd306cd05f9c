package receipt

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sondehq/sonde/internal/limitfile"
)

// SummaryFile holds, day by day, what the receipts rotated out of the log
// recorded (File+".1" is overwritten at each rotation): how many snapshots
// were taken and why, how many left the machine and were delivered, and
// for which tickets. So a flood of requests can push the receipts of a
// ticket out of the log, never out of the record. It is bounded: maxDays
// days, the oldest dropped, and maxTickets tickets a day, the others
// counted together.
const SummaryFile = "receipts-summary.json"

const (
	maxDays    = 400
	maxTickets = 64
	// maxSummary bounds the file as read: maxDays days of maxTickets
	// tickets fit in far less.
	maxSummary = 8 << 20
)

// Day is one UTC day of receipts in the summary.
type Day struct {
	Date string `json:"date"` // YYYY-MM-DD, UTC
	// Kinds counts the snapshots by why they were taken (requested,
	// periodic, fault, local).
	Kinds map[string]int `json:"kinds"`
	// Left counts those that left the machine, whole or in part, and
	// Delivered those the collector acknowledged.
	Left      int `json:"left"`
	Delivered int `json:"delivered"`
	// Tickets counts the snapshots taken for each ticket; OtherTickets
	// those for tickets past the first maxTickets of the day.
	Tickets      map[string]int `json:"tickets,omitempty"`
	OtherTickets int            `json:"other_tickets,omitempty"`
}

// Total is the day's count of snapshots.
func (d Day) Total() int {
	n := 0
	for _, c := range d.Kinds {
		n += c
	}
	return n
}

// summarize adds rs to days, sorted by date, and keeps the newest maxDays.
func summarize(days []Day, rs []Receipt) []Day {
	for _, r := range rs {
		date := r.At.UTC().Format("2006-01-02")
		i, found := slices.BinarySearchFunc(days, date, func(d Day, date string) int { return strings.Compare(d.Date, date) })
		if !found {
			days = slices.Insert(days, i, Day{Date: date, Kinds: map[string]int{}})
		}
		d := &days[i]
		if d.Kinds == nil {
			d.Kinds = map[string]int{}
		}
		d.Kinds[r.Kind]++
		if r.Delivered || r.Sent == SentAll || r.Sent == SentPart {
			d.Left++
		}
		if r.Delivered {
			d.Delivered++
		}
		if r.Ticket != "" {
			if _, ok := d.Tickets[r.Ticket]; ok || len(d.Tickets) < maxTickets {
				if d.Tickets == nil {
					d.Tickets = map[string]int{}
				}
				d.Tickets[r.Ticket]++
			} else {
				d.OtherTickets++
			}
		}
	}
	if len(days) > maxDays {
		days = days[len(days)-maxDays:]
	}
	return days
}

// ReadSummary returns the summary in dir, oldest day first; none when
// there is no file yet.
func ReadSummary(dir string) ([]Day, error) {
	b, err := limitfile.Read(filepath.Join(dir, SummaryFile), maxSummary)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the receipts' summary: %w", err)
	}
	var days []Day
	if err := json.Unmarshal(b, &days); err != nil {
		return nil, fmt.Errorf("reading the receipts' summary %s: %w", filepath.Join(dir, SummaryFile), err)
	}
	slices.SortFunc(days, func(a, b Day) int { return strings.Compare(a.Date, b.Date) })
	return days, nil
}

// fold adds the receipts of the file at old, about to be overwritten by a
// rotation, to the summary in dir. No file at old is nothing to fold.
func fold(dir, old string) error {
	b, err := limitfile.Read(old, 4*MaxSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("summarizing old receipts: %w", err)
	}
	days, err := ReadSummary(dir)
	if err != nil {
		return err
	}
	days = summarize(days, parse(b))
	out, err := json.Marshal(days)
	if err != nil {
		return fmt.Errorf("summarizing old receipts: %w", err)
	}
	if err := writePublic(filepath.Join(dir, SummaryFile), out); err != nil {
		return fmt.Errorf("summarizing old receipts: %w", err)
	}
	return nil
}
