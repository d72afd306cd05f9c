// Package cli is `sonde`, the L2 engineer's command line, a client of the
// collector's HTTP API (SONDE_URL, SONDE_TOKEN).
package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sondehq/sonde/internal/render"
)

// DefaultURL is the collector's default API address.
const DefaultURL = "http://127.0.0.1:7080"

// Client calls the collector's API.
type Client struct {
	Base  *url.URL
	Token string
	HTTP  *http.Client
}

// NewClient returns a client for base (DefaultURL when empty).
func NewClient(base, token string) (*Client, error) {
	if base == "" {
		base = DefaultURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("SONDE_URL %q is not an http(s) URL", base)
	}
	if token == "" {
		return nil, errors.New("no API key: set SONDE_TOKEN (make one with: sonde-collector apikey create NAME --role l2)")
	}
	return &Client{Base: u, Token: token, HTTP: &http.Client{}}, nil
}

// APIError is an error answer from the collector.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status) }

// Do sends a request with an optional JSON body and decodes a JSON answer
// into out. An error answer is an *APIError; its other errors say what
// failed (the collector unreachable, its answer unreadable).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding the request %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.Base.JoinPath(strings.Split(path, "?")[0])
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u.RawQuery = path[i+1:]
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("building the request %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the collector's answer to %s %s: %w", method, req.URL.Path, err)
	}
	if resp.StatusCode >= 300 {
		return apiError(resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding the collector's answer to %s %s: %w", method, req.URL.Path, err)
	}
	return nil
}

// apiError is the error of an error answer: the message of its JSON body
// (see api.Error), else the body as it is.
func apiError(status int, raw []byte) *APIError {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(raw))
	}
	return &APIError{Status: status, Message: e.Error}
}

// unreachable is the error of a request that got no answer. The
// *url.Error that http.Client returns repeats the method and the whole
// URL; its cause, which says why, is kept.
func (c *Client) unreachable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("waiting for the collector at %s: %w", c.Base, err)
	}
	return fmt.Errorf("cannot reach the collector at %s: %w", c.Base, err)
}

// ago formats the time since t for listings (render.Ago).
func ago(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return render.Ago(t, now)
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
