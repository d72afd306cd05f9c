package zammad

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"

	"github.com/sondehq/sonde/collector/helpdesk"
)

// Attach adds f to the ticket as the attachment of an internal note.
// Zammad takes attachments inline, base64 in the article's JSON: the body
// is streamed through a base64 encoder, with its exact length computed up
// front, and the file is never held in memory.
func (c *Connector) Attach(ctx context.Context, key string, f helpdesk.File) error {
	id, err := ticketID(key)
	if err != nil {
		return err
	}
	if f.Size < 0 || f.Size > c.maxUpload {
		return fmt.Errorf("zammad: attaching %s to ticket %d: the file is %d bytes; the connector's max_upload is %d", f.Name, id, f.Size, c.maxUpload)
	}
	head, tail, err := articleJSON(id, f)
	if err != nil {
		return fmt.Errorf("zammad: attaching %s to ticket %d: %w", f.Name, id, err)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("zammad: attaching %s to ticket %d: opening the file: %w", f.Name, id, err)
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeArticle(pw, head, tail, rc, f.Size))
	}()
	size := int64(len(head)) + base64Len(f.Size) + int64(len(tail))
	err = c.cl.Send(ctx, http.MethodPost, "/api/v1/ticket_articles", "application/json", pr, size, nil)
	pr.Close() // stops the writer if the request ended early
	<-done
	if err != nil {
		return fmt.Errorf("zammad: attaching %s to ticket %d: %w", f.Name, id, err)
	}
	return nil
}

// base64Len is the length of n bytes in padded standard base64.
func base64Len(n int64) int64 { return (n + 2) / 3 * 4 }

// articleJSON is the article's JSON around the attachment's base64 data:
// head ends with `"data":"`, tail closes the string and the object.
func articleJSON(id int64, f helpdesk.File) (head, tail []byte, err error) {
	typ := f.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	meta, err := json.Marshal(struct {
		TicketID    int64  `json:"ticket_id"`
		Subject     string `json:"subject"`
		Body        string `json:"body"`
		ContentType string `json:"content_type"`
		Type        string `json:"type"`
		Internal    bool   `json:"internal"`
	}{id, "Sonde: " + f.Name, "<p>Sonde attached " + html.EscapeString(f.Name) + ".</p>", "text/html", "note", true})
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the article: %w", err)
	}
	name, _ := json.Marshal(f.Name) // strings always marshal
	mime, _ := json.Marshal(typ)
	head = append(meta[:len(meta)-1:len(meta)-1], `,"attachments":[{"filename":`...)
	head = append(head, name...)
	head = append(head, `,"mime-type":`...)
	head = append(head, mime...)
	head = append(head, `,"data":"`...)
	return head, []byte(`"}]}`), nil
}

// writeArticle writes the body: head, the file in base64 (size bytes, no
// more, no fewer), tail.
func writeArticle(w io.Writer, head, tail []byte, r io.Reader, size int64) error {
	if _, err := w.Write(head); err != nil {
		return fmt.Errorf("writing the article: %w", err)
	}
	enc := base64.NewEncoder(base64.StdEncoding, w)
	n, err := io.Copy(enc, io.LimitReader(r, size+1))
	if err != nil {
		return fmt.Errorf("streaming the file: %w", err)
	}
	if n != size {
		return fmt.Errorf("the file is %d bytes, not the %d announced", n, size)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("streaming the file: %w", err)
	}
	if _, err := w.Write(tail); err != nil {
		return fmt.Errorf("writing the article: %w", err)
	}
	return nil
}
