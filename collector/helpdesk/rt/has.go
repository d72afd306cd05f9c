package rt

import (
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Bounds of Has: the attachments it lists (100 a page), the comment bodies
// it reads, and the largest body it reads.
const (
	maxHasPages  = 20
	maxBodies    = 100
	maxBodyBytes = 256 << 10
)

// Has lists the ticket's attachments (every MIME part of every
// transaction), newest first, and looks for marker in the file names, and
// in the text of the comments, read one by one. It is bounded: it lists
// 2,000 parts and reads the newest 100 comment bodies at most, and says
// false past that. A marker Has is asked for is a recent step's, so it is
// among the newest, or it is not there.
//
// The list asks for Filename, ContentType and ContentLength only: asking
// REST2 5.0.3 for Parent fails with HTTP 500.
func (c *Connector) Has(ctx context.Context, key, marker string) (bool, error) {
	if !isKey(key) {
		return false, fmt.Errorf("rt: reading a ticket: %q is not a ticket number", key)
	}
	if marker == "" {
		return false, fmt.Errorf("rt: reading ticket %s: no marker to look for", key)
	}
	q := url.Values{"fields": {"Filename,ContentType,ContentLength"}, "orderby": {"id"}, "order": {"DESC"}, "per_page": {"100"}}
	read := 0
	for page := 1; page <= maxHasPages; page++ {
		q.Set("page", strconv.Itoa(page))
		var res collection[struct {
			ID            scalar `json:"id"`
			Filename      string `json:"Filename"`
			ContentType   string `json:"ContentType"`
			ContentLength scalar `json:"ContentLength"`
		}]
		if err := c.c.JSON(ctx, http.MethodGet, api+"/ticket/"+key+"/attachments?"+q.Encode(), nil, &res); err != nil {
			return false, fmt.Errorf("rt: listing the attachments of ticket %s: %w", key, err)
		}
		for _, a := range res.Items {
			if a.Filename != "" {
				if strings.Contains(a.Filename, marker) {
					return true, nil
				}
				continue
			}
			n, err := strconv.ParseInt(string(a.ContentLength), 10, 64)
			if !strings.HasPrefix(a.ContentType, "text/") || err == nil && n > maxBodyBytes || read >= maxBodies || !isKey(string(a.ID)) {
				continue
			}
			read++
			text, err := c.content(ctx, string(a.ID))
			if err != nil {
				return false, fmt.Errorf("rt: reading the comments of ticket %s: %w", key, err)
			}
			if strings.Contains(text, marker) || strings.Contains(text, html.EscapeString(marker)) {
				return true, nil
			}
		}
		if res.NextPage == "" {
			break
		}
	}
	return false, nil
}

// content reads one attachment's bytes, which REST2 sends in base64.
func (c *Connector) content(ctx context.Context, id string) (string, error) {
	var a struct {
		Content string `json:"Content"`
	}
	if err := c.c.JSON(ctx, http.MethodGet, api+"/attachment/"+id, nil, &a); err != nil {
		return "", fmt.Errorf("reading attachment %s: %w", id, err)
	}
	b, err := base64.StdEncoding.DecodeString(a.Content)
	if err != nil {
		return "", fmt.Errorf("attachment %s: its content is not base64: %w", id, err)
	}
	return string(b), nil
}
