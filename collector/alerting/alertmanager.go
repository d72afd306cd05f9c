package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/alert"
)

// AMAlert is one alert as Alertmanager's API v2 takes it.
type AMAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Alertmanager posts transitions to an Alertmanager's API v2 (POST
// {URL}/api/v2/alerts), from a bounded queue: firing and refire as active
// alerts, resolved with endsAt set.
type Alertmanager struct {
	URL string
	// ExternalURL is the collector's UI address, for generatorURL.
	ExternalURL string
	Client      *http.Client
	Log         *slog.Logger
	q           *queue[[]AMAlert]
}

// Start runs the delivery queue (of at most max batches) until ctx is done.
func (am *Alertmanager) Start(ctx context.Context, max int) {
	if am.Client == nil {
		am.Client = &http.Client{Timeout: 10 * time.Second}
	}
	am.q = newQueue[[]AMAlert]("alertmanager "+am.URL, max, am.Log)
	go am.q.run(ctx, am.deliver)
}

// Wait blocks until the queue Start runs has stopped: its context ended
// and the job in hand, if any, is done.
func (am *Alertmanager) Wait() { am.q.wait() }

// Payload converts transitions to Alertmanager alerts.
func (am *Alertmanager) Payload(ts []alert.Transition) []AMAlert {
	out := make([]AMAlert, 0, len(ts))
	for _, t := range ts {
		a := AMAlert{Labels: t.Alert.Labels, Annotations: t.Alert.Annotations, StartsAt: t.Alert.StartsAt}
		if t.Kind == alert.KindResolved {
			a.EndsAt = t.Alert.EndsAt
		}
		if am.ExternalURL != "" {
			a.GeneratorURL = strings.TrimSuffix(am.ExternalURL, "/") + "/agents/" + t.Alert.AgentID
		}
		out = append(out, a)
	}
	return out
}

// Notify queues ts for delivery.
func (am *Alertmanager) Notify(ctx context.Context, ts []alert.Transition) {
	am.q.push(am.Payload(ts))
}

func (am *Alertmanager) deliver(ctx context.Context, batch []AMAlert) {
	wait := 500 * time.Millisecond
	var err error
	for i := range 4 {
		if err = am.Send(ctx, batch); err == nil {
			return
		}
		if i < 3 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait *= 2
		}
	}
	logger(am.Log).Error("alertmanager delivery failed", "url", am.URL, "err", err)
}

// Send posts batch now.
func (am *Alertmanager) Send(ctx context.Context, batch []AMAlert) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return fmt.Errorf("sending %d alerts to Alertmanager: %w", len(batch), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(am.URL, "/")+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sending %d alerts to Alertmanager: %w", len(batch), err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := am.Client.Do(req)
	if err != nil {
		return fmt.Errorf("sending %d alerts to Alertmanager: %w", len(batch), err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alertmanager %s answered %s: %s", am.URL, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
