package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

// Actor is the synthetic API key proactive tickets are opened as.
var Actor = store.APIKey{Name: "sonde-alerts", Role: store.RoleAdmin}

// Tickets opens proactive tickets for the alerts of rules with "ticket:
// true": one per fingerprint ("ALERT-<fingerprint>"), with one bundle;
// a flap adds a note to the open ticket rather than opening another. When
// MinMachines or more machines fire the same rule, an incident ticket
// ("INCIDENT-<rule>-<yyyymmdd>") groups them. Work runs on one goroutine,
// in order, so that two evaluations never race to open the same ticket.
type Tickets struct {
	API *api.API
	// Firing returns the engine's alerts (Engine.State), for incidents.
	Firing func() []alert.Alert
	// MinMachines is how many machines make an incident; default 3.
	MinMachines int
	// BundleTimeout bounds the fresh snapshot a bundle asks for; default 30s.
	BundleTimeout time.Duration
	Log           *slog.Logger
	q             *queue[ticketJob]
}

type ticketJob struct {
	ts     []alert.Transition
	firing []alert.Alert
}

// Start runs the ticket queue until ctx is done.
func (tk *Tickets) Start(ctx context.Context, max int) {
	if tk.MinMachines <= 0 {
		tk.MinMachines = 3
	}
	if tk.BundleTimeout <= 0 {
		tk.BundleTimeout = 30 * time.Second
	}
	tk.q = newQueue[ticketJob]("tickets", max, tk.Log)
	go tk.q.run(ctx, tk.handle)
}

// Wait blocks until the queue Start runs has stopped: its context ended
// and the job in hand, if any, is done.
func (tk *Tickets) Wait() { tk.q.wait() }

// Notify queues the transitions of ticket rules.
func (tk *Tickets) Notify(ctx context.Context, ts []alert.Transition) {
	var mine []alert.Transition
	for _, t := range ts {
		if t.Alert.Ticket && t.Kind != alert.KindRefire {
			mine = append(mine, t)
		}
	}
	if len(mine) == 0 {
		return
	}
	var firing []alert.Alert
	if tk.Firing != nil {
		firing = tk.Firing()
	}
	tk.q.push(ticketJob{ts: mine, firing: firing})
}

// handle processes one batch of transitions now.
func (tk *Tickets) handle(ctx context.Context, j ticketJob) {
	ctx = api.WithCaller(ctx, Actor, api.DoorAlerts)
	for _, t := range j.ts {
		if err := tk.transition(ctx, t); err != nil {
			logger(tk.Log).Error("proactive ticket", "rule", t.Alert.Rule, "fingerprint", t.Alert.Fingerprint, "err", err)
		}
		if t.Kind == alert.KindFiring {
			if err := tk.incident(ctx, t.Alert, j.firing); err != nil {
				logger(tk.Log).Error("incident ticket", "rule", t.Alert.Rule, "err", err)
			}
		}
	}
}

// TicketRef returns the reference of the n-th ticket (from 1) of an
// alert's fingerprint.
func TicketRef(fingerprint string, n int) string {
	ref := "ALERT-" + fingerprint[:min(8, len(fingerprint))]
	if n > 1 {
		ref += fmt.Sprintf("-%d", n)
	}
	return ref
}

// current finds the fingerprint's ticket that is not closed, or the
// reference to open.
func (tk *Tickets) current(ctx context.Context, fp string) (ticket.Ticket, string, error) {
	for n := 1; n <= 100; n++ {
		ref := TicketRef(fp, n)
		t, err := tk.API.Store.Ticket(ctx, ref)
		if errors.Is(err, store.ErrNotFound) {
			return ticket.Ticket{}, ref, nil
		}
		if err != nil {
			return t, "", err
		}
		if t.Status != ticket.Closed {
			return t, ref, nil
		}
	}
	return ticket.Ticket{}, "", fmt.Errorf("fingerprint %s has 100 closed tickets", fp)
}

func (tk *Tickets) transition(ctx context.Context, tr alert.Transition) error {
	a := tr.Alert
	t, ref, err := tk.current(ctx, a.Fingerprint)
	if err != nil {
		return err
	}
	summary := a.Annotations["summary"]
	if summary == "" {
		summary = a.Rule + " on " + a.Labels["hostname"]
	}
	if t.Ref == "" {
		if tr.Kind != alert.KindFiring {
			return nil // nothing to resolve
		}
		title := "[" + string(a.Severity) + "] " + summary
		if len(title) > ticket.MaxTitle {
			title = title[:ticket.MaxTitle]
		}
		if t, err = tk.API.OpenTicket(ctx, api.TicketOpen{Ref: ref, Title: title, Agents: []string{a.AgentID}, Tier: ticket.L2}); err != nil {
			return fmt.Errorf("opening ticket %s for alert %s: %w", ref, a.Fingerprint, err)
		}
		if err := tk.note(ctx, ref, describe(a, "firing")); err != nil {
			return err
		}
		if err := tk.toHelpdesk(ctx, ref, a); err != nil {
			return err
		}
	} else if err := tk.note(ctx, ref, describe(a, string(tr.Kind))); err != nil {
		return err
	}
	if tr.Kind != alert.KindFiring {
		return nil
	}
	bundles, err := tk.API.Store.Bundles(ctx, ref)
	if err != nil || len(bundles) > 0 {
		return err
	}
	ag, err := tk.API.Store.Agent(ctx, a.AgentID)
	if err != nil {
		return err
	}
	if _, err := tk.API.BuildBundle(ctx, t, ag, false, false, tk.BundleTimeout); err != nil {
		return fmt.Errorf("attaching a bundle of agent %s to ticket %s: %w", ag.ID, ref, err)
	}
	return nil
}

// toHelpdesk has the ticket opened in the rule's helpdesk too, with its
// evidence: the courier opens it there and delivers the ticket's bundles.
func (tk *Tickets) toHelpdesk(ctx context.Context, ref string, a alert.Alert) error {
	if a.Helpdesk == "" {
		return nil
	}
	if _, err := tk.API.ActOnTicket(ctx, ref, ticket.Request{Action: ticket.ActLink, Helpdesk: a.Helpdesk, Queue: a.Queue}); err != nil {
		return fmt.Errorf("opening ticket %s in helpdesk %s too: %w", ref, a.Helpdesk, err)
	}
	return nil
}

func (tk *Tickets) note(ctx context.Context, ref, text string) error {
	if _, err := tk.API.ActOnTicket(ctx, ref, ticket.Request{Action: ticket.ActNote, Text: text}); err != nil {
		return fmt.Errorf("adding a note to ticket %s: %w", ref, err)
	}
	return nil
}

// describe is the note an alert's transition leaves on its ticket.
func describe(a alert.Alert, kind string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Alert %s %s (fingerprint %s, value %g).", a.Rule, kind, a.Fingerprint, a.Value)
	if s := a.Annotations["description"]; s != "" {
		b.WriteString("\n" + s)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range a.Labels {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "\n%s=%s", k, a.Labels[k])
	}
	if len(b.String()) > ticket.MaxText {
		return b.String()[:ticket.MaxText]
	}
	return b.String()
}

// incident opens or updates the incident ticket of a's rule when enough
// machines fire it.
func (tk *Tickets) incident(ctx context.Context, a alert.Alert, firing []alert.Alert) error {
	var agents []string
	hosts := map[string]string{a.AgentID: a.Labels["hostname"]}
	for _, f := range firing {
		if f.Rule == a.Rule && f.State == alert.Firing && !slices.Contains(agents, f.AgentID) {
			agents = append(agents, f.AgentID)
			hosts[f.AgentID] = f.Labels["hostname"]
		}
	}
	if !slices.Contains(agents, a.AgentID) {
		agents = append(agents, a.AgentID)
	}
	if len(agents) < tk.MinMachines {
		return nil
	}
	now := time.Now().UTC()
	ref := "INCIDENT-" + a.Rule + "-" + now.Format("20060102")
	if len(ref) > 64 {
		ref = ref[:64]
	}
	_, err := tk.API.Store.Ticket(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		title := fmt.Sprintf("Incident: %s on %d machines", a.Rule, len(agents))
		if _, err := tk.API.OpenTicket(ctx, api.TicketOpen{Ref: ref, Title: title, Agents: []string{}, Tier: ticket.L2}); err != nil {
			return fmt.Errorf("opening incident ticket %s: %w", ref, err)
		}
		if err := tk.toHelpdesk(ctx, ref, a); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	for _, id := range agents {
		_, err := tk.API.Store.UpdateTicket(ctx, ref, func(t *ticket.Ticket) (ticket.Event, error) {
			if slices.Contains(t.Agents, id) {
				return ticket.Event{}, errSkip
			}
			t.Agents = append(t.Agents, id)
			t.UpdatedAt = now
			return ticket.Event{At: now, Actor: Actor.Name, Kind: ticket.ActNote,
				Text: fmt.Sprintf("Machine %s (%s) fires %s.", id, hosts[id], a.Rule)}, nil
		})
		if err != nil && !errors.Is(err, errSkip) {
			return err
		}
	}
	return nil
}

// errSkip leaves a ticket unchanged.
var errSkip = errors.New("unchanged")
