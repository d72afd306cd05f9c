// Package protocol is the wire contract between sonde-agent and sonde-collector.
//
// # Transport
//
// Agents dial the collector over QUIC with TLS 1.3 and mutual authentication,
// or, where UDP is blocked, over TLS 1.3 on TCP (the same port number) with
// streams multiplexed by yamux (internal/transport/tcp documents its records).
// The ALPN names the major protocol version ([ALPN], "sonde/1") on both; a
// peer that does not speak it fails the handshake instead of misreading bytes. Every
// exchange uses its own bidirectional stream: the opener writes one message,
// the other side answers with one message, and a snapshot is always answered
// by an [Ack] (only after the collector has committed it) or an [Error].
//
// The hello is the one exchange of three messages. The agent's [Hello]
// names the agent and carries a fresh [ChallengeLen]-byte challenge, and
// nothing of its machine; the collector's [Welcome] carries a proof
// ([ProveHello]): an Ed25519 signature by the request key that signs
// snapshot requests, over a context string, the agent ID, the challenge
// and 32 bytes exported from the TLS connection ([HelloBinding], label
// [HelloExporterLabel]), so a proof made on another connection (a man in
// the middle's to the real collector) does not verify. Only when it
// verifies ([VerifyHelloProof]) does the agent send an [Introduce] on the
// same stream, with its facts, probes and boot epoch, and anything else on
// the connection; otherwise it closes the connection, so a party holding
// the collector's TLS certificate but not its request key learns the
// agent's ID and version, nothing more. A hello without a challenge, from
// an agent that predates it, carries the facts itself and gets a welcome
// without a proof.
//
// # Framing
//
// A message travels as one frame: an 8-byte header (magic 'S', version, type,
// flags, big-endian payload length) followed by the payload. The payload is
// CBOR, optionally DEFLATE-compressed (FlagDeflate). Each message type has
// its own limits ([LimitsOf]), on the bytes on the wire and on the payload
// after decompression, and both sides read with the same table: a snapshot,
// the one large message, may take [MaxFrameSize] (8 MiB) on the wire and
// [MaxDecodedSize] (32 MiB) decoded; a snapshot request at most 16 KiB
// decoded, a welcome or an ack 4 KiB, an error 8 KiB, a renew or renewed
// 32 KiB, a hello, introduce, enroll or enrolled 64 KiB, each at least twice the
// largest message of its type that validates, and on the wire as much
// plus what DEFLATE adds to bytes that do not compress. A header whose
// length is past its type's limit is refused before the payload is read,
// and decompression stops one byte past the decoded limit, so a
// compression bomb costs what its type may hold, not what a snapshot may.
//
// # Encoding
//
// CBOR (RFC 8949) through github.com/fxamacker/cbor/v2: a binary format with a
// hardened decoder whose nesting depth, array and map sizes and indefinite
// lengths are capped (see decMode). Struct fields use small integer keys, so
// frames stay compact, and encoding is core-deterministic, so the same message
// always has the same bytes (testdata/golden holds them). Probe payloads are
// carried as JSON documents inside the CBOR envelope: JSON is what the
// collector stores and serves and what the analyzers read, so no transcoding
// happens on either side, and the collector validates each document.
//
// # Compatibility
//
// Within major version 1 a message only grows: new fields get new integer
// keys, existing keys are never renumbered or given a new meaning, and
// decoders ignore keys they do not know. The frame header's version byte is
// [Version]; a frame of another version is refused. Any change that would
// break an older peer gets a new major version and a new ALPN, and the
// golden encodings in testdata change only together with the version.
//
// Nothing in this package can ask an agent to run a command, write a file or
// evaluate a query: a request names compiled-in probes, at most process names
// that the processes probe compares with those running, and at most a flag
// asking to time a fresh connection to the agent's own collector, nothing
// more.
package protocol
