//go:build helpdesk

package helpdesk

import (
	"fmt"
	"testing"
)

// redmineDesk is Redmine as the flow test reads it.
type redmineDesk struct{ r *Redmine }

func (d redmineDesk) config() (string, map[string]string) {
	return fmt.Sprintf("connectors:\n  - name: redmine\n    kind: redmine\n    url: %s\n    queue: %s\n    secret: {env: SONDE_REDMINE_KEY}\n    poll: 1s\n", d.r.URL, d.r.Project),
		map[string]string{"SONDE_REDMINE_KEY": d.r.APIKey}
}

func (d redmineDesk) queue() string { return d.r.Project }

func (d redmineDesk) link(key string) string { return d.r.URL + "/issues/" + key }

func (d redmineDesk) issue(t *testing.T, key string) (is struct {
	Issue struct {
		Subject     string `json:"subject"`
		Description string `json:"description"`
		Journals    []struct {
			Notes string `json:"notes"`
		} `json:"journals"`
	} `json:"issue"`
}) {
	d.r.Do(t, "GET", "/issues/"+key+".json?include=journals", nil, &is)
	return is
}

func (d redmineDesk) subject(t *testing.T, key string) string { return d.issue(t, key).Issue.Subject }

func (d redmineDesk) files(t *testing.T, key, name string) []string {
	if sum := d.r.AttachmentSHA256(t, key, name); sum != "" {
		return []string{sum}
	}
	return nil
}

func (d redmineDesk) texts(t *testing.T, key string) []string {
	is := d.issue(t, key)
	texts := []string{is.Issue.Description}
	for _, j := range is.Issue.Journals {
		texts = append(texts, j.Notes)
	}
	return texts
}

func (d redmineDesk) resolve(t *testing.T, key string) string { return d.r.Resolve(t, key) }

func (d redmineDesk) secret() string { return d.r.APIKey }

// TestRedmineFlow runs the engineer's path (see flow) against a real
// Redmine.
func TestRedmineFlow(t *testing.T) { flow(t, "redmine", redmineDesk{StartRedmine(t)}) }
