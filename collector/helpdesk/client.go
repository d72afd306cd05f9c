package helpdesk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxAnswer bounds what is read of a helpdesk's answer.
const MaxAnswer = 4 << 20

// Client is the HTTP side every connector shares: a base URL, the
// credentials, bounded answers, and errors as *StatusError that never
// carry a credential.
type Client struct {
	Base *url.URL
	// Auth sets the credentials on a request.
	Auth func(*http.Request)
	HTTP *http.Client
	// Secrets are scrubbed from every error's text.
	Secrets []string
}

// NewClient makes a client for base, with a 60 s timeout for a request
// that sends no file; uploads set their own deadline through ctx.
func NewClient(base string, auth func(*http.Request), secrets ...string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("helpdesk URL %q: want http(s)://host[/path]", base)
	}
	if u.User != nil {
		return nil, fmt.Errorf("helpdesk URL: put credentials in secret:, not in the URL")
	}
	return &Client{Base: u, Auth: auth, HTTP: &http.Client{}, Secrets: secrets}, nil
}

// URL is the client's base with path (which may carry a query) appended.
func (c *Client) URL(path string) string { return c.Base.String() + path }

// JSON sends in (when not nil) as JSON and decodes the answer into out
// (when not nil).
func (c *Client) JSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	var size int64
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encoding: %w", method, opPath(path), err)
		}
		body, size = bytes.NewReader(b), int64(len(b))
	}
	return c.Send(ctx, method, path, "application/json", body, size, out)
}

// Send sends body (size bytes, -1 when unknown) as contentType and
// decodes a JSON answer into out (when not nil).
func (c *Client) Send(ctx context.Context, method, path, contentType string, body io.Reader, size int64, out any) error {
	return c.Do(ctx, method, path, func(r *http.Request) {
		if body != nil {
			r.Header.Set("Content-Type", contentType)
			r.ContentLength = size
		}
	}, body, out)
}

// Do sends one request; prepare may set headers. A 2xx answer is decoded
// into out as JSON when out is not nil; anything else is a *StatusError.
func (c *Client) Do(ctx context.Context, method, path string, prepare func(*http.Request), body io.Reader, out any) error {
	op := method + " " + opPath(c.Base.Path+path)
	req, err := http.NewRequestWithContext(ctx, method, c.URL(path), body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sonde-collector")
	if prepare != nil {
		prepare(req)
	}
	if c.Auth != nil {
		c.Auth(req)
	}
	if _, ok := ctx.Deadline(); !ok && req.ContentLength >= 0 && req.ContentLength < 1<<20 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
		req = req.WithContext(ctx)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s", op, c.scrub(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %s", op, c.scrub(err.Error()))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Op: op, Code: resp.StatusCode, Excerpt: c.excerpt(data), RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	if len(data) > MaxAnswer {
		return fmt.Errorf("%s: the answer is over %d bytes", op, MaxAnswer)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 && resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w (it began %q)", op, err, c.excerpt(data))
	}
	return nil
}

// Part is one part of a multipart body: a field (Data), or a file of
// Size bytes streamed from File.
type Part struct {
	Field    string
	FileName string // set for a file part
	Type     string // the part's Content-Type; "" for a plain field
	Data     []byte
	File     io.Reader
	Size     int64
}

// Multipart streams parts as multipart/form-data with its exact length
// (some helpdesks refuse chunked bodies): a file part is copied from its
// reader as the request goes, never held in memory.
func (c *Client) Multipart(ctx context.Context, method, path string, parts []Part, out any) error {
	var n countWriter
	boundary := multipart.NewWriter(&n).Boundary()
	if err := writeParts(&n, boundary, parts, false); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeParts(pw, boundary, parts, true))
	}()
	defer pr.Close()
	return c.Send(ctx, method, path, "multipart/form-data; boundary="+boundary, pr, int64(n), out)
}

// writeParts writes the body; without files it writes everything but the
// files' bytes, which it counts by their Size, so that a countWriter
// learns the length.
func writeParts(w io.Writer, boundary string, parts []Part, files bool) error {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return fmt.Errorf("multipart: %w", err)
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := `form-data; name="` + quote(p.Field) + `"`
		if p.FileName != "" {
			disp += `; filename="` + quote(p.FileName) + `"`
		}
		h.Set("Content-Disposition", disp)
		if p.Type != "" {
			h.Set("Content-Type", p.Type)
		}
		pw, err := mw.CreatePart(h)
		if err != nil {
			return fmt.Errorf("multipart part %s: %w", p.Field, err)
		}
		if p.File == nil {
			_, err = pw.Write(p.Data)
		} else if !files {
			*(w.(*countWriter)) += countWriter(p.Size)
		} else {
			var m int64
			m, err = io.Copy(pw, p.File)
			if err == nil && m != p.Size {
				err = fmt.Errorf("the file is %d bytes, not the %d announced", m, p.Size)
			}
		}
		if err != nil {
			return fmt.Errorf("multipart part %s: %w", p.Field, err)
		}
	}
	if err := mw.Close(); err != nil {
		return fmt.Errorf("multipart: %w", err)
	}
	return nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

var quoter = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "")

func quote(s string) string { return quoter.Replace(s) }

// opPath drops the query, which some helpdesks want credentials in.
func opPath(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// excerpt is the first 200 bytes of an answer, valid UTF-8, one line,
// with the client's secrets scrubbed.
func (c *Client) excerpt(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	s := strings.ToValidUTF8(string(b), "")
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	s = strings.Join(strings.Fields(s), " ")
	return c.scrub(s)
}

func (c *Client) scrub(s string) string {
	for _, sec := range c.Secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[credential]")
		}
	}
	return s
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
