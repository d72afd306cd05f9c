// Package webhook is the generic helpdesk connector: it posts each step of
// a Sonde ticket to one URL, signed, for a helpdesk Sonde has no connector
// for (a small receiver in front of it, a workflow engine). This comment is
// the receiver's contract.
//
// # What the receiver gets
//
// Every call is a POST to the connector's url with these headers:
//
//	X-Sonde-Timestamp: 1767225600        the time of the call, Unix seconds
//	X-Sonde-Signature: sha256=HEX        HMAC-SHA256, keyed with webhook_secret,
//	                                     of TIMESTAMP + "." + the raw body
//	X-Sonde-Event:     open, comment or attach
//	Idempotency-Key:   the step's marker, the same on every retry of the step
//
// An open is JSON (Content-Type: application/json):
//
//	{"event": "open", "ref": "SND-7", "marker": "sonde:SND-7",
//	 "title": "...", "text": "...", "queue": "..."}
//
// The receiver answers 2xx with {"key": "..."}, its own name for the ticket
// (1 to 200 printable ASCII characters, no spaces), or 204 or {} to let
// Sonde's ref be the key. It must answer an open it has seen (the same
// Idempotency-Key) with the same key: Sonde cannot ask it which tickets it
// has, and opens again when an answer was lost.
//
// A comment is JSON:
//
//	{"event": "comment", "key": "...", "marker": "...", "text": "...", "html": "..."}
//
// with the findings in plain text and as an HTML fragment (escaped).
//
// An attachment's body is the file itself (Content-Type: the file's type,
// application/zip for a bundle), described by headers:
//
//	X-Sonde-Key:         the ticket's key
//	X-Sonde-File-Name:   the file's name, which is also the Idempotency-Key
//	X-Sonde-File-SHA256: the file's SHA-256, hex
//
// # Verifying a call
//
// The receiver refuses (401) a call unless:
//
//  1. X-Sonde-Timestamp is an integer within 5 minutes of its own clock;
//  2. X-Sonde-Signature is "sha256=" and the hex HMAC-SHA256 of the
//     timestamp, ".", and the raw body as received (before any JSON
//     parsing), keyed with the shared secret, compared in constant time
//     (hmac.compare_digest in Python, crypto.timingSafeEqual in Node,
//     hmac.Equal in Go).
//
// An attachment can be streamed to disk through the HMAC and a SHA-256, and
// kept only when both match. A call whose Idempotency-Key the receiver has
// seen is answered as the first one was, and not acted on twice. The
// receiver answers 413 to a body too large for it, and 429 with a
// Retry-After to slow Sonde down; Sonde retries a refused step later.
//
// In Python:
//
//	ts = request.headers["X-Sonde-Timestamp"]
//	if abs(time.time() - int(ts)) > 300: abort(401)
//	mac = hmac.new(SECRET, ts.encode() + b"." + request.get_data(), hashlib.sha256)
//	if not hmac.compare_digest("sha256=" + mac.hexdigest(),
//	                           request.headers.get("X-Sonde-Signature", "")): abort(401)
//
// # Calling Sonde back
//
// To tell Sonde that a ticket changed, the receiver POSTs to the collector's
// /api/v1/helpdesks/NAME/webhook (NAME is the connector's name), signed the
// same way with the same secret:
//
//	{"key": "...", "status": "open" | "resolved" | "closed", "assignee": "..."}
//
// The key is the ticket's as Sonde knows it (the receiver's, or Sonde's
// ref); the assignee is a user name of at most 200 bytes of UTF-8 (""
// when unassigned), whose control characters Sonde drops.
//
// # What Sonde cannot know
//
// A webhook cannot be asked anything: Find finds nothing and Has has
// nothing (the receiver de-duplicates by Idempotency-Key instead), State is
// not supported (the receiver calls back), and a ticket's link is the url
// with the key as its fragment (URL#KEY).
package webhook
