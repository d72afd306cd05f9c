package redmine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/sondehq/sonde/collector/helpdesk"
)

// Attach sends f's bytes to /uploads.json, streamed with their exact
// length, then attaches the upload to the issue by its token.
func (rc *Connector) Attach(ctx context.Context, key string, f helpdesk.File) error {
	p, err := issuePath(key)
	if err != nil {
		return err
	}
	if f.Size > rc.maxUpload {
		return fmt.Errorf("redmine: attaching %s to issue %s: the file is %d bytes, over this connector's max_upload of %d", f.Name, key, f.Size, rc.maxUpload)
	}
	if f.Size < 0 || f.Open == nil {
		return fmt.Errorf("redmine: attaching %s to issue %s: no file to send", f.Name, key)
	}
	token, err := rc.upload(ctx, f)
	if err != nil {
		return fmt.Errorf("redmine: attaching %s to issue %s: %w", f.Name, key, err)
	}
	typ := f.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	in := map[string]any{"issue": map[string]any{"uploads": []map[string]string{{"token": token, "filename": f.Name, "content_type": typ}}}}
	if err := rc.c.JSON(ctx, http.MethodPut, p, in, nil); err != nil {
		return fmt.Errorf("redmine: attaching %s to issue %s: %w", f.Name, key, err)
	}
	return nil
}

// upload streams f to /uploads.json and returns the token Redmine gives
// for it. Redmine refuses a file over its own "Maximum attachment size"
// with 422, after reading it.
func (rc *Connector) upload(ctx context.Context, f helpdesk.File) (string, error) {
	r, err := f.Open()
	if err != nil {
		return "", fmt.Errorf("opening the file: %w", err)
	}
	defer r.Close()
	var out struct {
		Upload struct {
			Token string `json:"token"`
		} `json:"upload"`
	}
	var body io.Reader = io.NopCloser(r) // closed here, not by the transport
	if f.Size == 0 {
		body = http.NoBody // else an empty body would go chunked
	}
	err = rc.c.Send(ctx, http.MethodPost, "/uploads.json?filename="+url.QueryEscape(f.Name), "application/octet-stream", body, f.Size, &out)
	var se *helpdesk.StatusError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusUnprocessableEntity:
		return "", fmt.Errorf("the Redmine refuses the %d bytes: over its maximum attachment size (Administration → Settings → Files), or set max_upload below it: %w", f.Size, err)
	case err != nil:
		return "", fmt.Errorf("uploading: %w", err)
	case out.Upload.Token == "":
		return "", errors.New("uploading: the answer has no token")
	}
	return out.Upload.Token, nil
}
