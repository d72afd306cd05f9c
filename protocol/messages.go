package protocol

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the protocol version carried in every frame header.
const Version = 1

// ALPN is the TLS application protocol of this major version.
const ALPN = "sonde/1"

// Type identifies a message in a frame header.
type Type uint8

// Message types. Numbers are part of the wire contract.
const (
	TypeHello           Type = 1
	TypeWelcome         Type = 2
	TypeSnapshotRequest Type = 3
	TypeSnapshot        Type = 4
	TypeAck             Type = 5
	TypeError           Type = 6
	TypeEnroll          Type = 7
	TypeEnrolled        Type = 8
	TypeRenew           Type = 9
	TypeRenewed         Type = 10
	TypeIntroduce       Type = 11
)

func (t Type) String() string {
	if int(t) < len(registry) && registry[t].name != "" {
		return registry[t].name
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// registry lists every message the protocol defines, by wire type. A
// message travels only if it is here: ParseHeader refuses any other type.
// TestReadOnlyByConstruction reviews every field of every message listed,
// so a new message, or a new field, is read there before it ships.
var registry = [...]struct {
	name string
	new  func() Message
}{
	TypeHello:           {"hello", func() Message { return new(Hello) }},
	TypeWelcome:         {"welcome", func() Message { return new(Welcome) }},
	TypeSnapshotRequest: {"snapshot-request", func() Message { return new(SnapshotRequest) }},
	TypeSnapshot:        {"snapshot", func() Message { return new(Snapshot) }},
	TypeAck:             {"ack", func() Message { return new(Ack) }},
	TypeError:           {"error", func() Message { return new(Error) }},
	TypeEnroll:          {"enroll", func() Message { return new(Enroll) }},
	TypeEnrolled:        {"enrolled", func() Message { return new(Enrolled) }},
	TypeRenew:           {"renew", func() Message { return new(Renew) }},
	TypeRenewed:         {"renewed", func() Message { return new(Renewed) }},
	TypeIntroduce:       {"introduce", func() Message { return new(Introduce) }},
}

// Message is implemented by every message that can travel in a frame.
type Message interface {
	Type() Type
	// Validate checks the bounds and formats of a decoded message; the
	// decoder calls it, so a message that reaches the caller is valid.
	Validate() error
}

// Facts are the static facts of a machine, read once when the agent starts.
type Facts struct {
	Hostname        string `cbor:"1,keyasint,omitempty" json:"hostname"`
	OS              string `cbor:"2,keyasint,omitempty" json:"os"`
	Platform        string `cbor:"3,keyasint,omitempty" json:"platform,omitempty"`
	PlatformFamily  string `cbor:"4,keyasint,omitempty" json:"platform_family,omitempty"`
	PlatformVersion string `cbor:"5,keyasint,omitempty" json:"platform_version,omitempty"`
	KernelVersion   string `cbor:"6,keyasint,omitempty" json:"kernel_version,omitempty"`
	Arch            string `cbor:"7,keyasint,omitempty" json:"arch,omitempty"`
	Virtualization  string `cbor:"8,keyasint,omitempty" json:"virtualization,omitempty"`
	HostID          string `cbor:"9,keyasint,omitempty" json:"host_id,omitempty"`
	CPUModel        string `cbor:"10,keyasint,omitempty" json:"cpu_model,omitempty"`
	CPUs            int    `cbor:"11,keyasint,omitempty" json:"cpus,omitempty"`
	MemoryBytes     uint64 `cbor:"12,keyasint,omitempty" json:"memory_bytes,omitempty"`
	BootTime        int64  `cbor:"13,keyasint,omitempty" json:"boot_time,omitempty"` // Unix seconds
}

// Hello is the agent's first message on a new connection. An agent that
// sends a Challenge says nothing of its machine in it: BootEpoch, Facts and
// Probes follow in an Introduce, once the collector's Welcome has proved it
// holds the request key (see ProveHello). Agents from before the challenge
// carry them here, and a collector still takes them from here.
type Hello struct {
	AgentID      string `cbor:"1,keyasint"`
	AgentVersion string `cbor:"2,keyasint"`
	// Versions lists the protocol versions the agent speaks.
	Versions  []uint8 `cbor:"3,keyasint"`
	BootEpoch int64   `cbor:"4,keyasint"`
	Facts     Facts   `cbor:"5,keyasint"`
	// Probes lists the probes compiled into the agent.
	Probes []string `cbor:"6,keyasint,omitempty"`
	// AgentTime is the agent's clock as it sent the hello, in Unix
	// nanoseconds (0 from agents that predate it): the collector measures
	// the agent's clock skew with it, to place capture times that are
	// ahead of its own clock.
	AgentTime int64 `cbor:"7,keyasint,omitempty"`
	// Challenge is ChallengeLen random bytes, new for each connection,
	// that the collector's Welcome.Proof must sign; empty from agents that
	// predate it.
	Challenge []byte `cbor:"8,keyasint,omitempty"`
}

// Welcome answers Hello. The agent uses CollectorTime, with the round trip,
// to estimate its clock offset to the collector.
type Welcome struct {
	CollectorTime  int64 `cbor:"1,keyasint"` // Unix nanoseconds
	HealthInterval int64 `cbor:"2,keyasint"` // nanoseconds; 0 keeps the agent's own
	// Proof answers the hello's Challenge: an Ed25519 signature by the
	// request key (ProveHello), bound to the agent, the challenge and this
	// TLS connection. Empty when the hello had no challenge.
	Proof []byte `cbor:"3,keyasint,omitempty"`
}

// Introduce is what an agent tells of its machine, sent on the hello's
// stream after the Welcome, and only once its Proof verified: a party
// holding the collector's TLS certificate but not its request key (a
// TLS-terminating front end, a stolen certificate) learns none of it.
type Introduce struct {
	BootEpoch int64 `cbor:"1,keyasint"`
	Facts     Facts `cbor:"2,keyasint"`
	// Probes lists the probes compiled into the agent.
	Probes []string `cbor:"3,keyasint,omitempty"`
}

// SnapshotRequest asks an agent for a snapshot. An empty Probes list means
// the agent's default probes: all but the heavy ones (logs, software,
// storage health), which run only when named. It is all an agent can be asked: it names compiled-in probes
// and nothing else. The collector signs it with its request key (separate
// from TLS), bound to one agent, an expiry and a nonce, so the agent can
// refuse anything it did not sign, anything for another agent, anything
// stale and anything replayed (see Sign and VerifyRequest).
type SnapshotRequest struct {
	RequestID string   `cbor:"1,keyasint"`
	Probes    []string `cbor:"2,keyasint,omitempty"`
	Deadline  int64    `cbor:"3,keyasint"` // Unix milliseconds; also the request's expiry
	AgentID   string   `cbor:"4,keyasint,omitempty"`
	Nonce     []byte   `cbor:"5,keyasint,omitempty"`
	Signature []byte   `cbor:"6,keyasint,omitempty"` // Ed25519 over SigningBytes
	// Ticket names the ticket the snapshot is for, for the end user's
	// receipts; empty when there is none.
	Ticket string `cbor:"7,keyasint,omitempty"`
	// Processes names processes L2 asks about ("it is slow": which java?).
	// It is a filter over what the processes probe reads anyway, matched
	// against process and executable names, never an argument to anything;
	// see ValidProcessName. Empty when none; an empty list signs and
	// encodes exactly as requests did before the field existed.
	Processes []string `cbor:"8,keyasint,omitempty"`
	// FreshHandshake asks for a connectivity check: the network probe times
	// a fresh connection to the collector the agent is enrolled with (the
	// agent's own address, transport and identity; nothing in the request
	// names where or how), beside the connection it holds. Without it, a
	// connected agent reports its live connection (transport, round trip,
	// time up) and dials nothing. A bundle asks for it. False signs and
	// encodes exactly as requests did before the field existed, and an
	// older agent ignores it (and dials on every full snapshot anyway).
	FreshHandshake bool `cbor:"9,keyasint,omitempty"`
	// Fresh asks the agent to run the probes now, within its on-demand
	// budget, rather than answer with the results of a run of the same
	// probes that finished seconds ago (see the agent's client/shared.go).
	// False signs and encodes exactly as requests did before the field
	// existed.
	Fresh bool `cbor:"10,keyasint,omitempty"`
	// UserAgreed says the person at the machine agreed to heavy probes
	// (logs, software, storage health, the disk walk) running on a
	// battery below the agent's floor (its battery_floor), which holds
	// them back otherwise: L2 asked them, on the phone. It can only make
	// the agent do what the same request does on mains power. False
	// signs and encodes exactly as requests did before the field existed.
	UserAgreed bool `cbor:"11,keyasint,omitempty"`
}

// Kind tells an on-demand snapshot from a periodic health one.
type Kind uint8

// Snapshot kinds.
const (
	KindFull   Kind = 1
	KindHealth Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindFull:
		return "full"
	case KindHealth:
		return "health"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Snapshot is a set of probe results. (AgentID, BootEpoch, Seq) identifies
// it: the collector stores each identity once, however often it arrives.
type Snapshot struct {
	RequestID  string        `cbor:"1,keyasint,omitempty"` // empty when periodic
	Kind       Kind          `cbor:"2,keyasint"`
	AgentID    string        `cbor:"3,keyasint"`
	BootEpoch  int64         `cbor:"4,keyasint"`
	Seq        uint64        `cbor:"5,keyasint"`
	CapturedAt int64         `cbor:"6,keyasint"` // Unix milliseconds
	Probes     []ProbeResult `cbor:"7,keyasint"`
	// Trigger names the local fault that made the agent take this
	// snapshot on its own (a short kebab-case word); empty otherwise.
	Trigger string `cbor:"8,keyasint,omitempty"`
}

// ProbeResult is one probe's outcome. A failed probe has Error set and is
// still part of the snapshot.
type ProbeResult struct {
	Name     string `cbor:"1,keyasint"`
	Data     []byte `cbor:"2,keyasint,omitempty"` // a JSON document
	Error    string `cbor:"3,keyasint,omitempty"`
	Duration int64  `cbor:"4,keyasint"` // nanoseconds
	// Scrubbed counts, by redaction rule, the secrets the agent removed
	// from Data before it left the machine (command lines, log lines).
	Scrubbed []Scrub `cbor:"5,keyasint,omitempty"`
}

// Scrub is how many secrets one redaction rule removed at the source.
type Scrub struct {
	Rule  string `cbor:"1,keyasint" json:"rule"` // a redaction rule's kebab-case ID
	Count uint32 `cbor:"2,keyasint" json:"count"`
}

// Ack confirms that the collector has committed a snapshot.
type Ack struct {
	AgentID   string `cbor:"1,keyasint"`
	BootEpoch int64  `cbor:"2,keyasint"`
	Seq       uint64 `cbor:"3,keyasint"`
	// Duplicate is set when the snapshot had been stored before.
	Duplicate bool `cbor:"4,keyasint,omitempty"`
}

// Error codes.
const (
	CodeBadRequest   = 400
	CodeUnauthorized = 401
	CodeNotFound     = 404
	CodeTooLarge     = 413
	// CodeTooMany is an agent's refusal of a request over its on-demand
	// budget, or of heavy probes on a low battery (see
	// SnapshotRequest.UserAgreed); RetryAfter says when to ask again.
	CodeTooMany     = 429
	CodeInternal    = 500
	CodeUnavailable = 503
)

// Error reports a failure to the other side of a stream.
type Error struct {
	Code      uint16 `cbor:"1,keyasint"`
	Message   string `cbor:"2,keyasint"`
	RequestID string `cbor:"3,keyasint,omitempty"`
	// RetryAfter, in milliseconds, is how long a busy collector asks the
	// agent to hold its snapshots before sending again (with
	// CodeUnavailable); 0 leaves it to the agent's own backoff.
	RetryAfter int64 `cbor:"4,keyasint,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s (code %d)", e.Message, e.Code) }

// Enroll is sent by an agent that has no certificate yet: an enrollment
// token and a certificate signing request for a key made on the machine.
type Enroll struct {
	Token string `cbor:"1,keyasint"`
	CSR   []byte `cbor:"2,keyasint"` // DER
	Facts Facts  `cbor:"3,keyasint"`
}

// Enrolled answers Enroll with the agent's identity.
type Enrolled struct {
	AgentID     string `cbor:"1,keyasint"`
	Certificate []byte `cbor:"2,keyasint"` // DER, signed by the agent CA
	CA          []byte `cbor:"3,keyasint"` // DER of the agent CA
	// RequestKey is the Ed25519 public key whose signature every
	// SnapshotRequest must carry.
	RequestKey []byte `cbor:"4,keyasint,omitempty"`
}

// Renew asks, over an agent's authenticated connection, for a new
// certificate for a fresh key made on the machine.
type Renew struct {
	CSR []byte `cbor:"1,keyasint"` // DER
}

// Renewed answers Renew.
type Renewed struct {
	Certificate []byte `cbor:"1,keyasint"` // DER, signed by the agent CA
}

func (*Renew) Type() Type           { return TypeRenew }
func (*Renewed) Type() Type         { return TypeRenewed }
func (*Hello) Type() Type           { return TypeHello }
func (*Welcome) Type() Type         { return TypeWelcome }
func (*SnapshotRequest) Type() Type { return TypeSnapshotRequest }
func (*Snapshot) Type() Type        { return TypeSnapshot }
func (*Ack) Type() Type             { return TypeAck }
func (*Error) Type() Type           { return TypeError }
func (*Enroll) Type() Type          { return TypeEnroll }
func (*Enrolled) Type() Type        { return TypeEnrolled }
func (*Introduce) Type() Type       { return TypeIntroduce }

// newMessage returns an empty message of type t, or nil if t is unknown.
func newMessage(t Type) Message {
	if int(t) < len(registry) && registry[t].new != nil {
		return registry[t].new()
	}
	return nil
}

// Elapsed returns the probe's run time.
func (r *ProbeResult) Elapsed() time.Duration { return time.Duration(r.Duration) }

// validData reports whether Data is absent or a JSON document. JSON text is
// UTF-8 (RFC 8259, section 8.1), which json.Valid does not check inside
// strings: Validate checks that first (invalidUTF8At), to say where.
func (r *ProbeResult) validData() bool {
	return len(r.Data) == 0 || json.Valid(r.Data)
}
