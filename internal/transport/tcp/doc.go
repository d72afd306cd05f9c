// Package tcp is Sonde's fallback transport for networks that block UDP:
// TLS 1.3 over TCP, with the same certificates, client certificates and
// ALPN as QUIC, and github.com/hashicorp/yamux (v0.1.2) multiplexing
// streams on it. It implements transport.Conn with QUIC's behaviour where
// the application relies on it.
//
// # Records
//
// yamux has no close code or reason, and its only stream reset (RST) has no
// code, ends both directions at once and discards data the peer has not
// read yet: QUIC's CancelRead after writing an answer would lose the
// answer. So between TLS and yamux sits a thin record layer. After the
// handshake each direction is a sequence of records:
//
//	record = type:u8 length:uvarint body:length bytes
//
//	0 MUX     yamux's bytes, 1 to 64 KiB a record
//	1 PARAMS  idle_ms:uvarint                       each side's first record
//	2 CLOSE   code:uvarint reason_len:uvarint reason (UTF-8, at most 1024 bytes)
//	3 RESET   stream:uvarint code:uvarint          CancelWrite
//	4 STOP    stream:uvarint code:uvarint          CancelRead
//
// Bodies of the other types are at most 4 KiB; a record of an unknown type
// is skipped, and bytes after the fields a type defines are ignored, so
// later versions of the layer can add records and fields under the same
// ALPN. Anything else (a MUX record of 0 or more than 64 KiB, a body too
// short for its fields, a reason too long) ends the connection.
//
// One reader goroutine (yamux's) parses the records and acts on each
// control record before reading the bytes after it, and one writer at a
// time writes them; a control record queued before yamux hands over a frame
// leaves before that frame. That order is what makes the rest exact:
//
//   - CloseWithError(code, reason) writes CLOSE, then waits a few round
//     trips (50 ms to 1 s) for the peer to hang up before closing the
//     socket: closing with unread data makes the kernel send a TCP reset,
//     and some systems discard received data on a reset. The peer's calls
//     fail with *transport.ApplicationError{Remote: true, Code, Reason}.
//   - CancelWrite(code) queues RESET, then yamux's FIN: the peer has marked
//     the stream reset before it could read a clean end, so a message cut
//     short reads as a *transport.StreamError, never as a complete one.
//   - CancelRead(code) queues STOP; the peer's writes on the stream fail
//     with a *transport.StreamError. Its answer, already written, is not
//     touched: the STOP concerns the other direction only.
//
// # Liveness
//
// The idle timeout is the smaller of the two sides' offers (PARAMS), as in
// QUIC; a side with a keep-alive period pings (yamux's ping) once nothing
// has arrived for it or for half the idle timeout. Every stream write also
// asks for a ping (one in flight at a time, 10 ms apart at most), so data
// sent to a live peer is answered within a round trip, as QUIC's ACKs
// answer it, and the round-trip estimate in Stats comes from those pings.
// Stats.Received counts reads from the TLS connection.
//
// # Limits
//
// Each stream's receive window is Config.MaxStreamWindow (yamux's, at
// least 256 KiB); at most Config.MaxIncomingStreams accepted streams are
// open at once, as many more wait to be accepted, and yamux resets the
// rest (the opener sees a *transport.StreamError). A listener bounds the
// handshakes in progress and their time, and asks Config.Admit first.
package tcp
