package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/internal/render"
)

func alertsCmd(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("alerts", "sonde alerts [--agent AGENT] [--json]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	agent := fs.String("agent", "", "only this agent's alerts (its ID)")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	var list []alert.Alert
	if err := c.Do(ctx, "GET", "/api/v1/alerts?"+url.Values{"agent": {*agent}}.Encode(), nil, &list); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no alerts")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tSEVERITY\tALERT\tHOST\tSINCE\tSILENCED\tSUMMARY")
	now := time.Now()
	for _, a := range list {
		silenced := "-"
		if len(a.Silenced) > 0 {
			silenced = strings.Join(a.Silenced, ",")
		}
		summary := a.Annotations["summary"]
		if a.KeepFiring != "" {
			summary = strings.TrimPrefix(summary+" — "+a.KeepFiring, " — ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.State, a.Severity, render.Clean(a.Rule), dash(a.Labels["hostname"]),
			ago(a.ActiveAt, now), silenced, dash(summary))
	}
	return flush(tw)
}

func silenceCmd(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	const use = "sonde silence add --match name=value,... --for 2h [--comment TEXT] | list [--json] | expire ID"
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage:", use)
		return cliflag.ErrUsage
	}
	switch args[0] {
	case "add":
		return silenceAdd(ctx, c, args[1:], stdout, stderr)
	case "list":
		return silenceList(ctx, c, args[1:], stdout, stderr)
	case "expire":
		if len(args) != 2 {
			return errors.New("usage: sonde silence expire ID")
		}
		if err := c.Do(ctx, "DELETE", "/api/v1/silences/"+url.PathEscape(args[1]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "expired silence", args[1])
		return nil
	}
	fmt.Fprintln(stderr, "usage:", use)
	return cliflag.ErrUsage
}

func silenceAdd(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("silence add", "sonde silence add --match name=value,... --for 2h [--comment TEXT] [--json]", stderr)
	match := fs.String("match", "", "label matchers, e.g. alertname=DiskAlmostFull,hostname=pc1")
	dur := fs.Duration("for", 2*time.Hour, "how long the silence lasts")
	comment := fs.String("comment", "", "why")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	if *match == "" {
		return errors.New("--match is required")
	}
	var s alert.Silence
	req := api.SilenceRequest{Matchers: *match, Duration: dur.String(), Comment: *comment}
	if err := c.Do(ctx, "POST", "/api/v1/silences", req, &s); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, s)
	}
	fmt.Fprintf(stdout, "silence %s until %s\n", s.ID, s.EndsAt.Local().Format(time.RFC3339))
	return nil
}

func silenceList(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("silence list", "sonde silence list [--json]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	var list []alert.Silence
	if err := c.Do(ctx, "GET", "/api/v1/silences", nil, &list); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no silences")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMATCHERS\tENDS\tBY\tCOMMENT")
	for _, s := range list {
		ms := make([]string, len(s.Matchers))
		for i, m := range s.Matchers {
			ms[i] = m.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, render.Clean(strings.Join(ms, ",")), s.EndsAt.Local().Format(time.RFC3339),
			dash(s.CreatedBy), dash(s.Comment))
	}
	return flush(tw)
}
