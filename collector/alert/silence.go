package alert

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Matcher selects alerts whose label Name equals Value.
type Matcher struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// String returns the matcher as name=value.
func (m Matcher) String() string { return m.Name + "=" + m.Value }

// ParseMatchers reads matchers written "name=value,name=value".
func ParseMatchers(s string) ([]Matcher, error) {
	var out []Matcher
	for part := range strings.SplitSeq(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !validLabel.MatchString(name) {
			return nil, fmt.Errorf("invalid matcher %q (want label=value)", part)
		}
		out = append(out, Matcher{Name: name, Value: value})
	}
	return out, nil
}

// Silence mutes the notifications of the alerts all its matchers select,
// from StartsAt until EndsAt. A silenced alert keeps its state: when the
// silence ends, a firing alert not yet notified is.
//
// A silence never swallows the resolution of an alert whose firing was
// notified: the resolved transition goes out, so that nothing downstream
// (a ticket, Alertmanager) stays open for ever.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment,omitempty"`
}

// Validate checks a silence before it is stored: an ID, at least one
// matcher (a silence of everything is refused), valid label names, and an
// end after the start.
func (s *Silence) Validate() error {
	var errs []error
	if s.ID == "" {
		errs = append(errs, errors.New("silence has no id"))
	}
	if len(s.Matchers) == 0 {
		errs = append(errs, errors.New("silence has no matcher"))
	}
	for _, m := range s.Matchers {
		if !validLabel.MatchString(m.Name) {
			errs = append(errs, fmt.Errorf("invalid label name %q", m.Name))
		}
	}
	if !s.EndsAt.After(s.StartsAt) {
		errs = append(errs, errors.New("silence ends before it starts"))
	}
	return errors.Join(errs...)
}

// Active reports whether the silence is in force at now.
func (s *Silence) Active(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// Matches reports whether every matcher selects labels; a silence without
// matchers matches nothing.
func (s *Silence) Matches(labels map[string]string) bool {
	if len(s.Matchers) == 0 {
		return false
	}
	for _, m := range s.Matchers {
		if labels[m.Name] != m.Value {
			return false
		}
	}
	return true
}

// SetSilences replaces the engine's silences; they apply from the next
// evaluation.
func (e *Engine) SetSilences(silences []Silence) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.silences = slices.Clone(silences)
}

// Silences returns the engine's silences.
func (e *Engine) Silences() []Silence {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.silences)
}

// silencedBy returns the IDs of the silences in force at now that match
// labels, or nil.
func (e *Engine) silencedBy(now time.Time, labels map[string]string) []string {
	var ids []string
	for i := range e.silences {
		if s := &e.silences[i]; s.Active(now) && s.Matches(labels) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}
