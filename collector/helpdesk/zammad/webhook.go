package zammad

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" // Zammad signs its webhooks with HMAC-SHA1 (X-Hub-Signature)
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
)

// Webhook verifies a call from a Zammad webhook whose "HMAC SHA1 Signature
// Token" is the connector's webhook_secret: Zammad signs the body with it
// in X-Hub-Signature ("sha1=" and the hex HMAC-SHA1). The body is Zammad's
// default payload ({"ticket": {"id", "state", "state_id", "owner":
// {"login"}}, ...}); a custom payload must keep those fields. Without a
// webhook_secret every call is refused.
func (c *Connector) Webhook(h http.Header, body []byte) (string, helpdesk.State, error) {
	if c.hookSecret == "" {
		return "", helpdesk.State{}, fmt.Errorf("zammad: no webhook_secret is configured: %w", helpdesk.ErrUnsigned)
	}
	sig, ok := strings.CutPrefix(h.Get("X-Hub-Signature"), "sha1=")
	got, err := hex.DecodeString(sig)
	mac := hmac.New(sha1.New, []byte(c.hookSecret))
	mac.Write(body)
	if !ok || err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return "", helpdesk.State{}, helpdesk.ErrUnsigned
	}
	var p struct {
		Ticket struct {
			ID      json.Number `json:"id"`
			State   string      `json:"state"`
			StateID int64       `json:"state_id"`
			Owner   struct {
				Login string `json:"login"`
			} `json:"owner"`
		} `json:"ticket"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return "", helpdesk.State{}, fmt.Errorf("zammad: webhook payload: %w", err)
	}
	id, err := ticketID(p.Ticket.ID.String())
	if err != nil {
		return "", helpdesk.State{}, fmt.Errorf("zammad: webhook payload: %w", err)
	}
	// An administrator's own state needs its type, read (once) from Zammad.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := c.status(ctx, p.Ticket.State, p.Ticket.StateID)
	if err != nil {
		return "", helpdesk.State{}, fmt.Errorf("zammad: webhook for ticket %d: %w", id, err)
	}
	return strconv.FormatInt(id, 10), helpdesk.State{Status: st, Assignee: owner(p.Ticket.Owner.Login)}, nil
}
