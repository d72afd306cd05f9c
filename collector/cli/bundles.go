package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sondehq/sonde/internal/limitfile"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/internal/atomicfile"
	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/internal/render"
)

const bundleUsage = `usage:
  sonde bundle AGENT --ticket REF [-o FILE] [--pseudonymize] take a fresh snapshot, build a bundle, attach it (and download it)
  sonde bundle get ID -o FILE                                 download a bundle again (resumes a partial FILE.part)
  sonde bundle verify FILE [--key BASE64]                     check a bundle's signatures and checksums`

func bundles(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return bundleVerify(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "get" {
		return bundleGet(ctx, args[1:], stdout, stderr)
	}
	cl, err := envClient()
	if err != nil {
		return err
	}
	fs := cliflag.New("bundle", strings.TrimPrefix(bundleUsage, "usage:\n  "), stderr)
	ref := fs.String("ticket", "", "the ticket to attach the bundle to")
	out := fs.String("o", "", "write the bundle to `FILE`")
	pseudo := fs.Bool("pseudonymize", false, "replace IPs, MACs, hostnames, usernames and emails by pseudonyms")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for a fresh snapshot")
	asJSON := fs.Bool("json", false, "print the bundle's record as JSON")
	agent, err := oneAgent(fs, args)
	if err != nil {
		return err
	}
	if *ref == "" {
		return errors.New("--ticket is required\n" + bundleUsage)
	}
	if *out != "" {
		var me api.Me
		if err := cl.Do(ctx, "GET", "/api/v1/me", nil, &me); err != nil {
			return err
		}
		if !me.Evidence {
			return fmt.Errorf("API key %q has role %s, which may attach a bundle to its own tickets but not download one (bundles hold raw machine data, for L2 and above): leave out -o", me.Name, me.Role)
		}
	}
	var b api.BundleView
	req := api.BundleRequest{Agent: agent, Pseudonymize: *pseudo, Timeout: timeout.String()}
	fmt.Fprintf(stderr, "building a bundle for %s on ticket %s...\n", agent, *ref)
	if err := cl.Do(ctx, "POST", "/api/v1/tickets/"+url.PathEscape(*ref)+"/bundles", req, &b); err != nil {
		return err
	}
	if b.Note != "" {
		fmt.Fprintf(stderr, "note: %s\n", render.Clean(b.Note))
	}
	if *out != "" {
		if err := cl.Download(ctx, b.Download, *out, b.SHA256, stderr); err != nil {
			return err
		}
	}
	if *asJSON {
		return printJSON(stdout, b)
	}
	if *out == "" {
		fmt.Fprintf(stdout, "bundle %d attached to %s (%d findings, sha256 %s)\n", b.ID, b.Ticket, len(b.Findings), b.SHA256)
		return nil
	}
	fmt.Fprintf(stdout, "bundle %d attached to %s, saved to %s (%d findings)\n", b.ID, b.Ticket, *out, len(b.Findings))
	return nil
}

// envClient is a client from SONDE_URL and SONDE_TOKEN.
func envClient() (*Client, error) { return NewClient(os.Getenv("SONDE_URL"), os.Getenv("SONDE_TOKEN")) }

func bundleGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("bundle get", "sonde bundle get ID -o FILE", stderr)
	out := fs.String("o", "", "write the bundle to `FILE`")
	id, err := oneAgent(fs, args)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseInt(id, 10, 64); err != nil || *out == "" {
		return errors.New("usage: sonde bundle get ID -o FILE")
	}
	cl, err := envClient()
	if err != nil {
		return err
	}
	if err := cl.Download(ctx, "/api/v1/bundles/"+id+"/download", *out, "", stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved bundle %s to %s\n", id, *out)
	return nil
}

func bundleVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("bundle verify", "sonde bundle verify FILE [--key BASE64]", stderr)
	keyFlag := fs.String("key", "", "the collector's bundle key (base64; default: ask the collector at SONDE_URL)")
	file, err := oneAgent(fs, args)
	if err != nil {
		return err
	}
	pub, err := trustedKey(ctx, *keyFlag)
	if err != nil {
		return err
	}
	b, err := limitfile.Read(file, bundle.MaxSize)
	if err != nil {
		return fmt.Errorf("verifying the bundle: %w", err)
	}
	m, err := bundle.Verify(b, pub)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	fmt.Fprintf(stdout, "%s: OK — signed by collector key %s; ticket %s, agent %s, snapshot %d, %d files checked\n",
		file, m.Signer, render.Clean(m.Ticket), m.AgentID, m.SnapshotID, len(m.Files))
	return nil
}

func trustedKey(ctx context.Context, flagValue string) (ed25519.PublicKey, error) {
	if flagValue == "" {
		cl, err := envClient()
		if err != nil {
			return nil, fmt.Errorf("no --key, and cannot ask the collector: %w", err)
		}
		var k api.KeyView
		if err := cl.Do(ctx, "GET", "/api/v1/bundle-key", nil, &k); err != nil {
			return nil, fmt.Errorf("fetching the collector's bundle key: %w", err)
		}
		flagValue = k.PublicKey
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(flagValue))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("--key must be a base64 Ed25519 public key (see GET /api/v1/bundle-key)")
	}
	return ed25519.PublicKey(raw), nil
}

// Download fetches path into file, resuming from file.part when a previous
// download was cut short, showing progress on progress, and checking the
// SHA-256 when want is set.
func (c *Client) Download(ctx context.Context, path, file, want string, progress io.Writer) error {
	part := file + ".part"
	// Neither FILE.part nor FILE is written through a link planted there
	// (see atomicfile): the CLI may run as root, in /tmp.
	if err := atomicfile.Check(file); err != nil {
		return fmt.Errorf("downloading: %w", err)
	}
	f, err := atomicfile.OpenPart(part, 0o600)
	if err != nil {
		return fmt.Errorf("downloading: %w", err)
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("downloading to %s: %w", file, err)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", c.Base.JoinPath(path).String(), nil)
	if err != nil {
		return fmt.Errorf("downloading to %s: %w", file, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("downloading to %s: %w", file, c.unreachable(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("downloading to %s: %w", file, err)
		}
		have = 0
	case http.StatusPartialContent:
	case http.StatusRequestedRangeNotSatisfiable:
		// FILE.part is complete already (or longer than the bundle): start over.
		f.Truncate(0)
		return c.Download(ctx, path, file, want, progress)
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return apiError(resp.StatusCode, b)
	}
	total := have + resp.ContentLength
	pw := &progressWriter{w: progress, done: have, total: total, start: time.Now()}
	if _, err := io.Copy(io.MultiWriter(f, pw), resp.Body); err != nil {
		return fmt.Errorf("download interrupted at %d bytes (run the same command again to resume): %w", pw.done, err)
	}
	pw.finish()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("downloading to %s: %w", file, err)
	}
	if want != "" {
		b, err := limitfile.Read(part, bundle.MaxSize)
		if err != nil {
			return fmt.Errorf("checking the download: %w", err)
		}
		if got := sha256hex(b); got != want {
			os.Remove(part)
			return fmt.Errorf("downloaded file's SHA-256 %s is not the collector's %s; removed it, try again", got, want)
		}
	}
	if err := atomicfile.Rename(part, file); err != nil {
		return fmt.Errorf("downloading: %w", err)
	}
	return nil
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	start, last time.Time
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if time.Since(p.last) > 200*time.Millisecond {
		p.last = time.Now()
		p.print("\r")
	}
	return len(b), nil
}

func (p *progressWriter) print(prefix string) {
	if p.total > 0 {
		fmt.Fprintf(p.w, "%sdownloading %3d%% (%s of %s)", prefix, p.done*100/p.total, size(p.done), size(p.total))
	} else {
		fmt.Fprintf(p.w, "%sdownloading %s", prefix, size(p.done))
	}
}

func (p *progressWriter) finish() {
	p.print("\r")
	fmt.Fprintf(p.w, " in %s\n", time.Since(p.start).Round(time.Millisecond))
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func importCmd(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("import", "sonde import FILE --ticket REF [--agent AGENT]", stderr)
	ref := fs.String("ticket", "", "the ticket to file the snapshot under")
	agent := fs.String("agent", "", "the machine's agent ID or hostname (default: the one named in the file)")
	asJSON := fs.Bool("json", false, "print JSON")
	file, err := oneAgent(fs, args)
	if err != nil {
		return err
	}
	if *ref == "" {
		return errors.New("--ticket is required")
	}
	b, err := limitfile.Read(file, 32<<20)
	if err != nil {
		return fmt.Errorf("importing the snapshot: %w", err)
	}
	q := url.Values{}
	if *agent != "" {
		q.Set("agent", *agent)
	}
	var res api.ImportResult
	if err := c.Do(ctx, "POST", "/api/v1/tickets/"+url.PathEscape(*ref)+"/import?"+q.Encode(), json.RawMessage(b), &res); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	dup := ""
	if res.Duplicate {
		dup = " (imported before)"
	}
	fmt.Fprintf(stdout, "snapshot %d of agent %s filed under %s%s\n", res.SnapshotID, res.AgentID, *ref, dup)
	return nil
}
