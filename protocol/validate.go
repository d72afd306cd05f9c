package protocol

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what a peer may send. Everything an agent sends is untrusted.
const (
	MaxIDLen        = 64   // agent and request IDs
	MaxTextLen      = 1024 // facts, versions, error messages
	MaxTokenLen     = 256
	MaxCSRLen       = 8 << 10
	MaxCertLen      = 8 << 10
	MaxProbes       = 64
	MaxProbeNameLen = 32
	// MaxProcessNames bounds the processes one request asks about by
	// name, and MaxProcessNameLen each name (Linux names processes in 15
	// bytes, Windows executables in up to 255 UTF-16 units: 64 bytes holds
	// every name people type).
	MaxProcessNames   = 16
	MaxProcessNameLen = 64
	// MaxScrubRules bounds the redaction rules one probe result counts.
	MaxScrubRules = 64
	MaxProbeData  = 4 << 20
	// MaxRetryAfter bounds how long a collector may ask agents to wait.
	MaxRetryAfter = 10 * time.Minute
	// MaxClockAhead bounds how far a capture time may be ahead of the
	// clock of the collector receiving the snapshot: clocks that keep time
	// agree far closer, and nothing is captured after it arrives. Beyond
	// it, the capture time is a wrong clock or a forgery, and believed it
	// would make the snapshot "the latest" until that time came.
	MaxClockAhead = 5 * time.Minute
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid message")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// CheckCaptureTime refuses a capture time more than MaxClockAhead ahead of
// received, the collector's clock when the snapshot arrived. Past capture
// times are valid: a snapshot may wait in a spool or a file for long.
func CheckCaptureTime(captured, received time.Time) error {
	if ahead := captured.Sub(received); ahead > MaxClockAhead {
		return invalid("capture time %s is %s ahead of the collector's clock (%s), more than the %s allowed: check the machine's clock",
			captured.UTC().Format(time.RFC3339), ahead.Round(time.Second), received.UTC().Format(time.RFC3339), MaxClockAhead)
	}
	return nil
}

// ValidTrigger reports whether t is a well-formed snapshot trigger: a
// short kebab-case word.
func ValidTrigger(t string) bool {
	return ValidProbeName(t) && t[len(t)-1] != '-' && !strings.Contains(t, "--")
}

// ValidProbeName reports whether name is a well-formed probe name:
// lower-case letters, digits and dashes, starting with a letter.
func ValidProbeName(name string) bool {
	if name == "" || len(name) > MaxProbeNameLen || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidProcessName reports whether name can name a process in a request:
// 1 to MaxProcessNameLen bytes of valid UTF-8, without control or format
// characters (terminal escapes, bidirectional overrides) or path separators
// ('/', '\\'). It is compared with process names, never opened or run, but
// a path or an escape has no business there.
func ValidProcessName(name string) bool {
	if name == "" || len(name) > MaxProcessNameLen || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '/' || r == '\\' || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// ValidID reports whether id is a well-formed agent or request ID: printable
// ASCII letters, digits, '-', '_' and '.', at most MaxIDLen bytes.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func checkText(field, s string, max int) error {
	if len(s) > max {
		return invalid("%s is %d bytes, limit %d", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", field)
	}
	return nil
}

func checkID(field, id string, optional bool) error {
	if optional && id == "" {
		return nil
	}
	if !ValidID(id) {
		return invalid("%s %q is not a valid ID", field, truncate(id))
	}
	return nil
}

// checkProbeNames checks a list of probe names: at most MaxProbes, each
// well formed and named once. A request naming a probe twice would run it
// twice (64 × network: 64 handshakes) for a snapshot that Validate refuses.
func checkProbeNames(names []string) error {
	if len(names) > MaxProbes {
		return invalid("%d probes, limit %d", len(names), MaxProbes)
	}
	for i, n := range names {
		if !ValidProbeName(n) {
			return invalid("probe name %q is not valid", truncate(n))
		}
		// At most MaxProbes names: comparing with those before costs less
		// than a map.
		if slices.Contains(names[:i], n) {
			return invalid("probe %s named twice", n)
		}
	}
	return nil
}

func checkProcessNames(names []string) error {
	if len(names) > MaxProcessNames {
		return invalid("%d process names, limit %d", len(names), MaxProcessNames)
	}
	for _, n := range names {
		if !ValidProcessName(n) {
			return invalid("process name %q is not valid: 1 to %d bytes, no control characters or path separators", truncate(strings.ToValidUTF8(n, "?")), MaxProcessNameLen)
		}
	}
	return nil
}

// invalidUTF8At returns the offset of the first byte of b that is not
// part of valid UTF-8, or -1 when b is valid.
func invalidUTF8At(b []byte) int {
	if utf8.Valid(b) {
		return -1 // the common case, checked a word at a time
	}
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

func truncate(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// Validate checks the facts' text fields.
func (f *Facts) Validate() error {
	for _, t := range []struct{ name, v string }{
		{"hostname", f.Hostname}, {"os", f.OS}, {"platform", f.Platform},
		{"platform family", f.PlatformFamily}, {"platform version", f.PlatformVersion},
		{"kernel version", f.KernelVersion}, {"arch", f.Arch},
		{"virtualization", f.Virtualization}, {"host id", f.HostID}, {"cpu model", f.CPUModel},
	} {
		if err := checkText(t.name, t.v, MaxTextLen); err != nil {
			return err
		}
	}
	if f.CPUs < 0 {
		return invalid("negative cpu count")
	}
	return nil
}

func (m *Hello) Validate() error {
	if err := checkID("agent id", m.AgentID, false); err != nil {
		return err
	}
	if err := checkText("agent version", m.AgentVersion, MaxTextLen); err != nil {
		return err
	}
	if m.AgentTime < 0 {
		return invalid("negative agent time")
	}
	if len(m.Versions) == 0 || len(m.Versions) > 16 {
		return invalid("%d protocol versions", len(m.Versions))
	}
	if len(m.Challenge) != 0 && len(m.Challenge) != ChallengeLen {
		return invalid("challenge is %d bytes, want %d", len(m.Challenge), ChallengeLen)
	}
	if err := checkProbeNames(m.Probes); err != nil {
		return err
	}
	return m.Facts.Validate()
}

func (m *Welcome) Validate() error {
	if m.HealthInterval < 0 {
		return invalid("negative health interval")
	}
	if len(m.Proof) != 0 && len(m.Proof) != ed25519.SignatureSize {
		return invalid("proof is %d bytes, want %d", len(m.Proof), ed25519.SignatureSize)
	}
	return nil
}

func (m *Introduce) Validate() error {
	if err := checkProbeNames(m.Probes); err != nil {
		return err
	}
	return m.Facts.Validate()
}

func (m *SnapshotRequest) Validate() error {
	if err := checkID("request id", m.RequestID, false); err != nil {
		return err
	}
	if m.Deadline <= 0 {
		return invalid("no deadline")
	}
	if err := checkID("agent id", m.AgentID, true); err != nil {
		return err
	}
	if err := checkID("ticket", m.Ticket, true); err != nil {
		return err
	}
	if len(m.Nonce) > 64 || len(m.Signature) > 128 {
		return invalid("nonce or signature too long")
	}
	if err := checkProbeNames(m.Probes); err != nil {
		return err
	}
	return checkProcessNames(m.Processes)
}

func (m *Snapshot) Validate() error {
	if m.Kind != KindFull && m.Kind != KindHealth {
		return invalid("unknown snapshot kind %d", m.Kind)
	}
	if err := checkID("agent id", m.AgentID, false); err != nil {
		return err
	}
	if err := checkID("request id", m.RequestID, true); err != nil {
		return err
	}
	if m.Seq == 0 {
		return invalid("seq 0")
	}
	if m.CapturedAt <= 0 {
		return invalid("no capture time")
	}
	if m.Trigger != "" && !ValidTrigger(m.Trigger) {
		return invalid("trigger %q is not valid", truncate(m.Trigger))
	}
	if len(m.Probes) > MaxProbes {
		return invalid("%d probe results, limit %d", len(m.Probes), MaxProbes)
	}
	for i := range m.Probes {
		r := &m.Probes[i]
		if !ValidProbeName(r.Name) {
			return invalid("probe name %q is not valid", truncate(r.Name))
		}
		// At most MaxProbes names: comparing with those before costs less
		// than a map built for every snapshot.
		for _, before := range m.Probes[:i] {
			if before.Name == r.Name {
				return invalid("probe %q twice", r.Name)
			}
		}
		if len(r.Data) > MaxProbeData {
			return invalid("probe %s data is %d bytes, limit %d", r.Name, len(r.Data), MaxProbeData)
		}
		if at := invalidUTF8At(r.Data); at >= 0 {
			// Said apart from "not JSON": the usual cause is a file or a
			// command's output read in another encoding, not a broken probe.
			return invalid("probe %s data has invalid UTF-8 at byte %d", r.Name, at)
		}
		if !r.validData() {
			return invalid("probe %s data is not JSON", r.Name)
		}
		if err := checkText("probe "+r.Name+" error", r.Error, MaxTextLen); err != nil {
			return err
		}
		if r.Duration < 0 {
			return invalid("probe %s has a negative duration", r.Name)
		}
		if len(r.Scrubbed) > MaxScrubRules {
			return invalid("probe %s scrubbed by %d rules, limit %d", r.Name, len(r.Scrubbed), MaxScrubRules)
		}
		for _, sc := range r.Scrubbed {
			if !ValidProbeName(sc.Rule) {
				return invalid("probe %s scrubbed by rule %q, not a valid rule name", r.Name, truncate(sc.Rule))
			}
		}
	}
	return nil
}

func (m *Ack) Validate() error {
	if err := checkID("agent id", m.AgentID, false); err != nil {
		return err
	}
	if m.Seq == 0 {
		return invalid("seq 0")
	}
	return nil
}

func (m *Error) Validate() error {
	if err := checkID("request id", m.RequestID, true); err != nil {
		return err
	}
	if m.RetryAfter < 0 || m.RetryAfter > MaxRetryAfter.Milliseconds() {
		return invalid("retry after %d ms", m.RetryAfter)
	}
	return checkText("error message", m.Message, MaxTextLen)
}

func (m *Enroll) Validate() error {
	if m.Token == "" || len(m.Token) > MaxTokenLen {
		return invalid("token length %d", len(m.Token))
	}
	if len(m.CSR) == 0 || len(m.CSR) > MaxCSRLen {
		return invalid("csr length %d", len(m.CSR))
	}
	return m.Facts.Validate()
}

func (m *Enrolled) Validate() error {
	if err := checkID("agent id", m.AgentID, false); err != nil {
		return err
	}
	if len(m.Certificate) == 0 || len(m.Certificate) > MaxCertLen || len(m.CA) == 0 || len(m.CA) > MaxCertLen {
		return invalid("certificate lengths %d, %d", len(m.Certificate), len(m.CA))
	}
	if len(m.RequestKey) != 0 && len(m.RequestKey) != 32 {
		return invalid("request key is %d bytes", len(m.RequestKey))
	}
	return nil
}

func (m *Renew) Validate() error {
	if len(m.CSR) == 0 || len(m.CSR) > MaxCSRLen {
		return invalid("csr length %d", len(m.CSR))
	}
	return nil
}

func (m *Renewed) Validate() error {
	if len(m.Certificate) == 0 || len(m.Certificate) > MaxCertLen {
		return invalid("certificate length %d", len(m.Certificate))
	}
	return nil
}
