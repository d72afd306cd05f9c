package glpi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/sondehq/sonde/collector/helpdesk"
)

// Attach uploads f as a Document linked to the ticket: one multipart POST
// of an uploadManifest and the file (filename[0]), streamed with its exact
// length. The manifest's itemtype and items_id make GLPI link the document
// to the ticket as it adds it (Document::post_addItem adds the
// Document_Item), so no document is left unlinked between two calls.
func (c *Connector) Attach(ctx context.Context, key string, f helpdesk.File) error {
	id, err := ticketID(key)
	if err != nil {
		return err
	}
	if f.Size < 0 || f.Size > c.maxUpload {
		return fmt.Errorf("glpi: attaching %s to ticket %s: the file is %d bytes; the connector's max_upload is %d", f.Name, id, f.Size, c.maxUpload)
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	manifest, err := json.Marshal(map[string]any{"input": map[string]any{
		"name": f.Name, "_filename": []string{f.Name}, "itemtype": "Ticket", "items_id": n,
	}})
	if err != nil {
		return fmt.Errorf("glpi: attaching %s to ticket %s: encoding the manifest: %w", f.Name, id, err)
	}
	typ := f.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	parts := func() ([]helpdesk.Part, func(), error) {
		rc, err := f.Open()
		if err != nil {
			return nil, nil, fmt.Errorf("opening the file: %w", err)
		}
		return []helpdesk.Part{
			{Field: "uploadManifest", Type: "application/json", Data: manifest},
			{Field: "filename[0]", FileName: f.Name, Type: typ, File: rc, Size: f.Size},
		}, func() { rc.Close() }, nil
	}
	var out created
	op := "attaching " + f.Name + " to ticket " + id
	if err := c.do(ctx, op, request{method: http.MethodPost, path: "/Document", parts: parts}, &out); err != nil {
		return err
	}
	if _, err := out.id(); err != nil {
		return fmt.Errorf("glpi: %s: %w", op, err)
	}
	return nil
}
