package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sondehq/sonde/collector/helpdesk"
)

func init() { helpdesk.Register("webhook", New) }

// MaxSkew is how far a call's timestamp may be from the clock, either way.
const MaxSkew = 5 * time.Minute

// Connector posts a Sonde ticket's steps to a receiver, signed.
type Connector struct {
	cl        *helpdesk.Client
	secret    []byte
	maxUpload int64
	now       func() time.Time
}

var (
	_ helpdesk.Connector = (*Connector)(nil)
	_ helpdesk.Hooked    = (*Connector)(nil)
)

// New makes a webhook connector; it needs a webhook_secret, which signs
// every call both ways.
func New(s helpdesk.Settings) (helpdesk.Connector, error) {
	if s.WebhookSecret == "" {
		return nil, errors.New("webhook: webhook_secret: every call is signed with it; give one (32 random bytes or more)")
	}
	cl, err := helpdesk.NewClient(s.URL, nil, s.WebhookSecret)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if cl.Base.Fragment != "" {
		return nil, errors.New("webhook: url: no #fragment: Sonde puts the ticket's key there in links")
	}
	c := &Connector{cl: cl, secret: []byte(s.WebhookSecret), maxUpload: s.MaxUpload, now: time.Now}
	if c.maxUpload <= 0 {
		c.maxUpload = helpdesk.DefaultMaxUpload
	}
	return c, nil
}

// Sign is the X-Sonde-Signature of body sent at ts (Unix seconds, as
// X-Sonde-Timestamp has it): what a receiver written in Go compares, with
// hmac.Equal, to the header.
func Sign(secret []byte, ts string, body io.Reader) (string, error) {
	m, err := mac(secret, ts, body)
	if err != nil {
		return "", err
	}
	return "sha256=" + hex.EncodeToString(m), nil
}

// mac is the HMAC-SHA256 of ts, "." and body.
func mac(secret []byte, ts string, body io.Reader) ([]byte, error) {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	if _, err := io.Copy(m, body); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return m.Sum(nil), nil
}

// validKey accepts what can go in a header and a link: 1 to 200 printable
// ASCII characters, no spaces.
func validKey(k string) bool {
	if k == "" || len(k) > 200 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}

// call is one signed POST: event, its Idempotency-Key, the body of size
// bytes and its signature, and what prepare adds.
type call struct {
	event, idem, contentType string
	body                     io.Reader
	size                     int64
	ts, sig                  string
	prepare                  func(*http.Request)
}

func (c *Connector) send(ctx context.Context, k call, out any) error {
	if k.size == 0 {
		k.body = http.NoBody
	}
	err := c.cl.Do(ctx, http.MethodPost, "", func(r *http.Request) {
		r.ContentLength = k.size
		r.Header.Set("Content-Type", k.contentType)
		r.Header.Set("X-Sonde-Event", k.event)
		r.Header.Set("X-Sonde-Timestamp", k.ts)
		r.Header.Set("X-Sonde-Signature", k.sig)
		r.Header.Set("Idempotency-Key", k.idem)
		if k.prepare != nil {
			k.prepare(r)
		}
	}, k.body, out)
	if err != nil {
		return fmt.Errorf("webhook: posting the %s: %w", k.event, err)
	}
	return nil
}

// sendJSON signs and posts a JSON event.
func (c *Connector) sendJSON(ctx context.Context, event, idem string, v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("webhook: encoding the %s: %w", event, err)
	}
	ts := strconv.FormatInt(c.now().Unix(), 10)
	sig, err := Sign(c.secret, ts, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("webhook: %s: %w", event, err)
	}
	return c.send(ctx, call{event: event, idem: idem, contentType: "application/json", body: bytes.NewReader(b), size: int64(len(b)), ts: ts, sig: sig}, out)
}

// Open posts the ticket; the receiver's key names it, or Sonde's ref when
// the receiver gives none.
func (c *Connector) Open(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	var out struct {
		Key string `json:"key"`
	}
	ev := map[string]string{"event": "open", "ref": t.Ref, "marker": t.Marker, "title": t.Title, "text": t.Text, "queue": t.Queue}
	if err := c.sendJSON(ctx, "open", t.Marker, ev, &out); err != nil {
		return "", err
	}
	key := out.Key
	if key == "" {
		key = t.Ref
	}
	if !validKey(key) {
		return "", fmt.Errorf("webhook: the receiver's key %q: want 1 to 200 printable ASCII characters, no spaces", key)
	}
	return key, nil
}

// Find finds nothing: a webhook cannot be asked, and the receiver answers
// a repeated open (the same Idempotency-Key) with the key it gave first.
func (c *Connector) Find(context.Context, helpdesk.NewTicket) (string, error) { return "", nil }

// Comment posts the summary in plain text and in HTML.
func (c *Connector) Comment(ctx context.Context, key string, s helpdesk.Summary) error {
	if !validKey(key) {
		return fmt.Errorf("webhook: ticket key %q is not a key this connector gives", key)
	}
	ev := map[string]string{"event": "comment", "key": key, "marker": s.Marker, "text": s.Text(), "html": s.HTML()}
	return c.sendJSON(ctx, "comment", s.Marker, ev, nil)
}

// Attach posts the file as the body. Its signature covers the body, so the
// file is read twice from f.Open, never held in memory: once through the
// HMAC (and a SHA-256, checked against f.SHA256), then to send.
func (c *Connector) Attach(ctx context.Context, key string, f helpdesk.File) error {
	if !validKey(key) {
		return fmt.Errorf("webhook: ticket key %q is not a key this connector gives", key)
	}
	if f.Size < 0 || f.Size > c.maxUpload {
		return fmt.Errorf("webhook: attaching %s: the file is %d bytes; the connector's max_upload is %d", f.Name, f.Size, c.maxUpload)
	}
	ts := strconv.FormatInt(c.now().Unix(), 10)
	sig, sum, err := c.signFile(ts, f)
	if err != nil {
		return fmt.Errorf("webhook: attaching %s: %w", f.Name, err)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("webhook: attaching %s: opening the file: %w", f.Name, err)
	}
	defer rc.Close()
	typ := f.Type
	if typ == "" {
		typ = "application/zip"
	}
	return c.send(ctx, call{event: "attach", idem: f.Name, contentType: typ, body: io.LimitReader(rc, f.Size), size: f.Size, ts: ts, sig: sig,
		prepare: func(r *http.Request) {
			r.Header.Set("X-Sonde-Key", key)
			r.Header.Set("X-Sonde-File-Name", f.Name)
			r.Header.Set("X-Sonde-File-SHA256", sum)
		}}, nil)
}

// signFile reads f once: its signature at ts, and its SHA-256.
func (c *Connector) signFile(ts string, f helpdesk.File) (sig, sum string, err error) {
	rc, err := f.Open()
	if err != nil {
		return "", "", fmt.Errorf("opening the file: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	n := new(counter)
	sig, err = Sign(c.secret, ts, io.TeeReader(io.LimitReader(rc, f.Size+1), io.MultiWriter(h, n)))
	if err != nil {
		return "", "", fmt.Errorf("reading the file: %w", err)
	}
	if int64(*n) != f.Size {
		return "", "", fmt.Errorf("the file is %d bytes, not the %d announced", int64(*n), f.Size)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if f.SHA256 != "" && !strings.EqualFold(f.SHA256, sum) {
		return "", "", fmt.Errorf("the file's SHA-256 is %s, not the %s announced", sum, f.SHA256)
	}
	return sig, sum, nil
}

type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

// Has has nothing: a webhook cannot be asked; the receiver drops steps it
// has seen by their Idempotency-Key.
func (c *Connector) Has(context.Context, string, string) (bool, error) { return false, nil }

// State is not supported: the receiver calls back (see Webhook).
func (c *Connector) State(context.Context, string) (helpdesk.State, error) {
	return helpdesk.State{}, fmt.Errorf("webhook: reading a ticket's state: %w", helpdesk.ErrUnsupported)
}

// Link is the url with the key as its fragment: the receiver's UI, if it
// has one, can read it from there.
func (c *Connector) Link(key string) string {
	u := *c.cl.Base
	u.Fragment = key
	return u.String()
}

// Webhook verifies a call back from the receiver: signed as Sonde's calls
// are, with a timestamp within MaxSkew of the clock, and a body of
// {"key", "status", "assignee"} in Sonde's words.
func (c *Connector) Webhook(h http.Header, body []byte) (string, helpdesk.State, error) {
	ts := h.Get("X-Sonde-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", helpdesk.State{}, fmt.Errorf("webhook: X-Sonde-Timestamp %q: %w", ts, helpdesk.ErrUnsigned)
	}
	if skew := c.now().Sub(time.Unix(sec, 0)); skew > MaxSkew || skew < -MaxSkew {
		return "", helpdesk.State{}, fmt.Errorf("webhook: the call was signed %s from now: %w", skew.Round(time.Second), helpdesk.ErrUnsigned)
	}
	want, _ := mac(c.secret, ts, bytes.NewReader(body)) // reading bytes does not fail
	hexSig, ok := strings.CutPrefix(h.Get("X-Sonde-Signature"), "sha256=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil || !hmac.Equal(got, want) {
		return "", helpdesk.State{}, helpdesk.ErrUnsigned
	}
	var p struct {
		Key      string `json:"key"`
		Status   string `json:"status"`
		Assignee string `json:"assignee"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return "", helpdesk.State{}, fmt.Errorf("webhook: the call's body: %w", err)
	}
	if !validKey(p.Key) {
		return "", helpdesk.State{}, fmt.Errorf("webhook: the call's key %q: want 1 to 200 printable ASCII characters, no spaces", p.Key)
	}
	switch p.Status {
	case helpdesk.StatusOpen, helpdesk.StatusResolved, helpdesk.StatusClosed:
	default:
		return "", helpdesk.State{}, fmt.Errorf("webhook: the call's status %q: want open, resolved or closed", p.Status)
	}
	if len(p.Assignee) > helpdesk.MaxAssignee || !utf8.ValidString(p.Assignee) {
		return "", helpdesk.State{}, fmt.Errorf("webhook: the call's assignee: want at most %d bytes of UTF-8", helpdesk.MaxAssignee)
	}
	return p.Key, helpdesk.State{Status: p.Status, Assignee: helpdesk.CleanName(p.Assignee)}, nil
}
