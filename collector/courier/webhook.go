package courier

import (
	"errors"
	"io"
	"net/http"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/store"
)

// maxWebhook bounds a webhook call's body.
const maxWebhook = 1 << 20

// ServeWebhook answers POST /api/v1/helpdesks/{name}/webhook: a
// helpdesk's signed call saying a ticket changed. It takes no API key:
// the signature, made with the connector's webhook_secret, is the proof.
func (c *Courier) ServeWebhook(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	hooked, ok := c.Connectors[name].(helpdesk.Hooked)
	if !ok {
		http.Error(w, "no helpdesk with webhooks is configured by that name", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhook))
	if err != nil {
		http.Error(w, "the body is over 1 MiB or was cut short", http.StatusRequestEntityTooLarge)
		return
	}
	key, st, err := hooked.Webhook(r.Header, body)
	if errors.Is(err, helpdesk.ErrUnsigned) {
		c.Log.Warn("a helpdesk webhook call was refused: not signed with its webhook secret", "helpdesk", name, "remote", r.RemoteAddr)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	moves, err := c.Follow(r.Context(), name, key, st)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Not a ticket Sonde follows: the helpdesk need not retry.
		w.WriteHeader(http.StatusAccepted)
	case err != nil:
		c.Log.Error("following a helpdesk webhook", "helpdesk", name, "key", key, "err", err)
		http.Error(w, "the collector could not record the change; retry later", http.StatusServiceUnavailable)
	default:
		if len(moves) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}
