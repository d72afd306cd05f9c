package alert

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// Input is one agent's data for an evaluation.
type Input struct {
	AgentID  string
	Hostname string
	// OS is the agent's operating system (facts' os); when empty, the
	// health snapshot's facts are read. dns.failing needs it.
	OS string
	// CPUs is the machine's logical CPU count (facts' cpus); when 0, the
	// health snapshot's facts are read. cpu.cores is it.
	CPUs int
	// Health is the latest health snapshot; nil when there is none.
	Health *protocol.Document
	// Previous is the health snapshot before it, for rate(); may be nil.
	Previous *protocol.Document
	// LastSeen is when the agent was last heard from.
	LastSeen time.Time
	// Online says whether the agent is connected now.
	Online bool
	// Faults are the snapshots the agent took on its own at a fault
	// (collector unreachable, no DNS, ...) within FaultWindow.
	Faults []Fault
}

// FaultWindow is how long a fault snapshot counts in fault.recent.
const FaultWindow = 15 * time.Minute

// Fault is one snapshot an agent took at a fault.
type Fault struct {
	Trigger    string
	CapturedAt time.Time
}

// State is where an alert stands.
type State string

// The states. Resolved appears only in the alert of a resolved transition.
const (
	Pending  State = "pending"
	Firing   State = "firing"
	Resolved State = "resolved"
)

// Alert is one rule's condition on one series of one agent.
type Alert struct {
	// Fingerprint identifies the alert: a hash of the rule name, agent_id
	// and the series' labels (not the hostname, nor the rule's labels).
	Fingerprint string            `json:"fingerprint"`
	Rule        string            `json:"rule"`
	AgentID     string            `json:"agent_id"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Severity    Severity          `json:"severity"`
	// Value is the series' value when the condition last held.
	Value float64 `json:"value"`
	State State   `json:"state"`
	// Ticket is the rule's ticket flag.
	Ticket bool `json:"ticket,omitempty"`
	// Helpdesk and Queue are the rule's: where its ticket opens too.
	Helpdesk string `json:"helpdesk,omitempty"`
	Queue    string `json:"queue,omitempty"`
	// ActiveAt is when the condition started to hold.
	ActiveAt time.Time `json:"active_at"`
	// StartsAt is when the alert fired; zero while pending.
	StartsAt time.Time `json:"starts_at,omitzero"`
	// EndsAt is when it resolved; zero until then.
	EndsAt time.Time `json:"ends_at,omitzero"`
	// LastTrueAt is the last evaluation at which the condition held;
	// FalseSince the first at which it no longer did (zero while it does).
	LastTrueAt time.Time `json:"last_true_at"`
	FalseSince time.Time `json:"false_since,omitzero"`
	// KeepFiringFor is the rule's keep_firing_for: how long a firing
	// alert's condition must stay false before it resolves. ResolvesAt is
	// when that will be, set while a firing alert's condition is false.
	KeepFiringFor time.Duration `json:"keep_firing_for,omitempty"`
	ResolvesAt    time.Time     `json:"resolves_at,omitzero"`
	// Notified says a firing transition went out and no resolved one yet;
	// LastSentAt is when the last one went out.
	Notified   bool      `json:"notified,omitempty"`
	LastSentAt time.Time `json:"last_sent_at,omitzero"`
	// Silenced lists the IDs of the silences muting the alert.
	Silenced []string `json:"silenced,omitempty"`
	// KeepFiring says, in a listing, why a firing alert whose condition
	// has cleared still fires (see Alert.KeptFiring); like Silenced, the
	// lister sets it, the engine's state never holds it.
	KeepFiring string `json:"keep_firing,omitempty"`
}

// Kind is what a transition notifies.
type Kind string

// The transition kinds.
const (
	KindFiring   Kind = "firing"
	KindResolved Kind = "resolved"
	// KindRefire re-sends a firing alert every Options.ResendInterval.
	KindRefire Kind = "refire"
)

// Transition is a notification to send.
type Transition struct {
	Alert Alert `json:"alert"`
	Kind  Kind  `json:"kind"`
}

// Options tune an Engine; zero values take the defaults.
type Options struct {
	// ResendInterval is how often a firing alert is sent again (refire);
	// default 5m.
	ResendInterval time.Duration
	// MaxAlerts bounds the alerts held; beyond it new ones are not
	// tracked. Default 100000.
	MaxAlerts int
}

// Engine evaluates rules and keeps the alerts' state. It is safe for
// concurrent use.
type Engine struct {
	src  RuleSource
	opts Options

	mu       sync.Mutex
	alerts   map[string]*Alert
	silences []Silence
}

// NewEngine returns an engine evaluating the rules src gives at each
// evaluation (a *RuleSet, or a *Reloader).
func NewEngine(src RuleSource, opts Options) *Engine {
	if opts.ResendInterval <= 0 {
		opts.ResendInterval = 5 * time.Minute
	}
	if opts.MaxAlerts <= 0 {
		opts.MaxAlerts = 100_000
	}
	return &Engine{src: src, opts: opts, alerts: map[string]*Alert{}}
}

// Evaluate runs every rule over inputs, which must hold the whole fleet:
// an agent left out counts as having no series, so its alerts resolve
// once their hold-down passes. It returns the notifications to send,
// ordered by rule name and then fingerprint.
func (e *Engine) Evaluate(now time.Time, inputs []Input) []Transition {
	rs := e.src.Current()
	var rules []*Rule
	if rs != nil {
		rules = rs.rules
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := map[string]bool{}
	for i := range inputs {
		in := &inputs[i]
		c := newEvalCtx(in, now)
		for _, r := range rules {
			for _, s := range r.expr.eval(c) {
				e.observe(now, r, in, s, seen)
			}
		}
	}
	var out []Transition
	for _, fp := range slices.Sorted(maps.Keys(e.alerts)) {
		a := e.alerts[fp]
		r := rs.rule(a.Rule)
		if r == nil || (!seen[fp] && e.holdDownOver(now, a, r)) {
			delete(e.alerts, fp)
			if a.State == Firing && a.Notified {
				a.State, a.EndsAt = Resolved, now
				render(r, a)
				out = append(out, Transition{Alert: a.clone(), Kind: KindResolved})
			}
			continue
		}
		if a.Silenced = e.silencedBy(now, a.Labels); a.State != Firing || len(a.Silenced) > 0 {
			continue
		}
		switch {
		case !a.Notified:
			a.Notified = true
			out = append(out, e.send(now, r, a, KindFiring))
		case now.Sub(a.LastSentAt) >= e.opts.ResendInterval:
			out = append(out, e.send(now, r, a, KindRefire))
		}
	}
	slices.SortStableFunc(out, func(a, b Transition) int { return cmp.Compare(a.Alert.Rule, b.Alert.Rule) })
	return out
}

// observe records that series s of rule r holds for agent in.
func (e *Engine) observe(now time.Time, r *Rule, in *Input, s sample, seen map[string]bool) {
	labels := maps.Clone(s.labels)
	labels["agent_id"] = clip(in.AgentID)
	fp := fingerprint(r.Name, labels)
	if seen[fp] {
		return
	}
	seen[fp] = true
	a := e.alerts[fp]
	if a == nil {
		if len(e.alerts) >= e.opts.MaxAlerts {
			return
		}
		a = &Alert{Fingerprint: fp, Rule: r.Name, AgentID: labels["agent_id"], State: Pending, ActiveAt: now}
		e.alerts[fp] = a
	}
	for k, v := range r.Labels {
		if _, ok := labels[k]; !ok {
			labels[k] = v
		}
	}
	hostname := in.Hostname
	if hostname == "" && in.Health != nil && in.Health.Facts != nil {
		hostname = in.Health.Facts.Hostname
	}
	if hostname != "" {
		labels["hostname"] = clip(hostname)
	}
	labels["alertname"], labels["severity"] = r.Name, string(r.Severity)
	a.Labels, a.Severity, a.Ticket, a.Value = labels, r.Severity, r.Ticket, s.value
	a.Helpdesk, a.Queue = r.Helpdesk, r.Queue
	a.LastTrueAt, a.FalseSince, a.ResolvesAt, a.KeepFiringFor = now, time.Time{}, time.Time{}, r.KeepFiringFor
	if a.State == Pending && now.Sub(a.ActiveAt) >= r.For {
		a.State, a.StartsAt = Firing, now
	}
	// Pending alerts too: a listing shows what is about to fire, and the
	// figures stay those of this evaluation.
	render(r, a)
}

// holdDownOver records that a's condition does not hold and reports
// whether a is over: pending, or firing and false for KeepFiringFor.
func (e *Engine) holdDownOver(now time.Time, a *Alert, r *Rule) bool {
	if a.State != Firing {
		return true
	}
	if a.FalseSince.IsZero() {
		a.FalseSince = now
	}
	a.KeepFiringFor, a.ResolvesAt = r.KeepFiringFor, a.FalseSince.Add(r.KeepFiringFor)
	return now.Sub(a.FalseSince) >= r.KeepFiringFor
}

func (e *Engine) send(now time.Time, r *Rule, a *Alert, kind Kind) Transition {
	a.LastSentAt = now
	render(r, a)
	return Transition{Alert: a.clone(), Kind: kind}
}

// render sets a's annotations from its rule's templates; without the
// rule (removed since) they stay as they were.
func render(r *Rule, a *Alert) {
	if r == nil {
		return
	}
	data := TemplateData{Labels: a.Labels, Value: a.Value, ActiveFor: a.LastTrueAt.Sub(a.ActiveAt).Seconds(), Rule: r.Name, Severity: r.Severity}
	a.Annotations = map[string]string{}
	if s := renderTemplate(r.summary, data); s != "" {
		a.Annotations["summary"] = s
	}
	if s := renderTemplate(r.descr, data); s != "" {
		a.Annotations["description"] = s
	}
}

func (a *Alert) clone() Alert {
	c := *a
	c.Labels = maps.Clone(a.Labels)
	c.Annotations = maps.Clone(a.Annotations)
	c.Silenced = slices.Clone(a.Silenced)
	return c
}

// fingerprint hashes a rule name and a label set.
func fingerprint(rule string, labels map[string]string) string {
	h := sha256.New()
	h.Write([]byte(rule))
	h.Write([]byte{0xfe})
	h.Write([]byte(signature(labels)))
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// State returns copies of the alerts held, pending and firing, by
// fingerprint; for the caller to persist and list.
func (e *Engine) State() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Alert, 0, len(e.alerts))
	for _, a := range e.alerts {
		out = append(out, a.clone())
	}
	slices.SortFunc(out, func(a, b Alert) int { return cmp.Compare(a.Fingerprint, b.Fingerprint) })
	return out
}

// Restore replaces the alerts held with alerts, as State returned them;
// entries without a fingerprint or in another state are dropped.
func (e *Engine) Restore(alerts []Alert) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.alerts = make(map[string]*Alert, len(alerts))
	for _, a := range alerts {
		if a.Fingerprint == "" || (a.State != Pending && a.State != Firing) || len(e.alerts) >= e.opts.MaxAlerts {
			continue
		}
		c := a.clone()
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		e.alerts[a.Fingerprint] = &c
	}
}
