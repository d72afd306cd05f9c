// Package loadgen simulates a fleet of Sonde agents against a running
// collector, with the real protocol and real mTLS identities, and measures
// what the collector does under that load: agents connected, its memory per
// agent, how fast a whole fleet is back after its connections are dropped
// or it restarts, how many snapshots a second it persists and acks, and the
// on-demand round trip through its HTTP API. It also measures the raw QUIC
// ceiling for the same message sizes (raw.go), so the ingest rate can be
// read against what quic-go alone does on the same machine.
//
// The simulated agents are not the agent: they enroll through
// agent/client.Enroll (the collector's own enrollment path, with a token
// allowing N uses) and keep the identities in a cache directory, then speak
// the protocol package's messages over internal/transport/quic, many
// connections sharing one UDP socket (one quic.Transport per socket), with
// snapshots recorded from agent/probe on a real machine (testdata/). They
// check every request's signature as an agent does (protocol.Verifier) and
// answer with the recorded full snapshot. The agent binary does not link
// this package (cmd/sonde-agent's deps test), and the package links no
// collector code: it reaches the collector over the network and its binary
// only (bench.go).
package loadgen
