package helpdesk

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sondehq/sonde/internal/safetext"
)

// MaxAssignee bounds the user name a connector returns in a State. It is
// larger than any name a Sonde ticket takes, so a name cut to it is still
// refused there rather than taken for someone else's.
const MaxAssignee = 200

// CleanName is a user name as a helpdesk (or a webhook call) gives it,
// made safe to keep and show: valid UTF-8, no control characters (a
// terminal escape among them), at most MaxAssignee bytes.
func CleanName(s string) string { return safetext.Clean(s, MaxAssignee) }

// SubjectWithin is Subject cut to at most max characters by shortening the
// title, never the marker: helpdesks cap a subject's length (Jira's summary
// at 255, ServiceNow's short description at 160) and one that cut the
// marker off would leave Find blind to the ticket.
func (t NewTicket) SubjectWithin(max int) string {
	tail := " [" + t.Marker + "]"
	title := strings.ToValidUTF8(t.Title, "")
	room := max - utf8.RuneCountInString(tail)
	if utf8.RuneCountInString(title) <= room {
		return title + tail
	}
	if room <= 1 {
		return strings.TrimSpace(tail)
	}
	r := []rune(title)[:room-1]
	return strings.TrimRight(string(r), " ") + "…" + tail
}

// CheckUpload refuses, before anything is sent, a file over max bytes (or
// over DefaultMaxUpload when max is 0), so that the courier can comment
// where the bundle is instead of failing the upload again and again.
func CheckUpload(f File, max int64) error {
	if max <= 0 {
		max = DefaultMaxUpload
	}
	if f.Size > max {
		return fmt.Errorf("attaching %s: it is %d bytes, over the helpdesk's %d-byte limit (max_upload)", f.Name, f.Size, max)
	}
	if f.Size < 0 || f.Open == nil {
		return fmt.Errorf("attaching %s: no size or no content", f.Name)
	}
	return nil
}
