package alerting

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/sondehq/sonde/collector/alert"
)

// SignatureHeader carries the webhook body's HMAC-SHA256, "sha256=<hex>".
const SignatureHeader = "X-Sonde-Signature"

// WebhookPayload is the JSON body a webhook receives.
type WebhookPayload struct {
	Version     string             `json:"version"`
	Transitions []alert.Transition `json:"transitions"`
}

// Webhook posts transitions as JSON to a URL, signed with a shared secret,
// retrying with exponential backoff from a bounded queue.
type Webhook struct {
	URL    string
	Secret []byte
	Client *http.Client
	Log    *slog.Logger
	// Attempts bounds the tries per payload (default 5); Backoff is the
	// first wait between them, doubled each time (default 1s).
	Attempts int
	Backoff  time.Duration
	q        *queue[[]byte]
}

// Sign returns the signature header value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Start runs the webhook's delivery queue (of at most max payloads)
// until ctx is done.
func (w *Webhook) Start(ctx context.Context, max int) {
	if w.Client == nil {
		w.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if w.Attempts <= 0 {
		w.Attempts = 5
	}
	if w.Backoff <= 0 {
		w.Backoff = time.Second
	}
	w.q = newQueue[[]byte]("webhook "+w.URL, max, w.Log)
	go w.q.run(ctx, w.deliver)
}

// Wait blocks until the queue Start runs has stopped: its context ended
// and the job in hand, if any, is done.
func (w *Webhook) Wait() { w.q.wait() }

// Notify queues one payload holding ts.
func (w *Webhook) Notify(ctx context.Context, ts []alert.Transition) {
	body, err := json.Marshal(WebhookPayload{Version: "1", Transitions: ts})
	if err != nil {
		return
	}
	w.q.push(body)
}

func (w *Webhook) deliver(ctx context.Context, body []byte) {
	wait := w.Backoff
	var err error
	for i := range w.Attempts {
		if err = w.post(ctx, body); err == nil {
			return
		}
		if i == w.Attempts-1 {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
	logger(w.Log).Error("webhook delivery failed, payload dropped", "url", w.URL, "attempts", w.Attempts, "err", err)
}

func (w *Webhook) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("posting to the webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(w.Secret, body))
	resp, err := w.Client.Do(req)
	if err != nil {
		return fmt.Errorf("posting to the webhook: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", w.URL, resp.Status)
	}
	return nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
