package protocol

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"testing"
	"time"
)

// TestSignVerify: a request the collector signed for an agent verifies
// there once, fresh; any change after signing, another key, another agent,
// an expiry past or too far ahead, a nonce seen before, and no signature
// at all are refused, each with its own error.
func TestSignVerify(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	nonce := func(b byte) []byte { return bytes.Repeat([]byte{b}, nonceLen) }
	sign := func(n byte, edit func(*SnapshotRequest), k ed25519.PrivateKey, agent string) *SnapshotRequest {
		r := &SnapshotRequest{RequestID: testRequestID, Probes: []string{"cpu"}, Deadline: now.Add(time.Minute).UnixMilli(), Ticket: "T-1"}
		if edit != nil {
			edit(r)
		}
		if err := r.Sign(k, agent, nonce(n)); err != nil {
			t.Fatal(err)
		}
		return r
	}
	v := &Verifier{Key: pub, AgentID: testAgentID}

	good := sign(1, nil, key, testAgentID)
	if good.AgentID != testAgentID || !bytes.Equal(good.Nonce, nonce(1)) || len(good.Signature) != ed25519.SignatureSize {
		t.Fatalf("Sign left %+v", good)
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("a signed request does not validate: %v", err)
	}
	// Through the wire and back, it still verifies.
	b := mustAppend(t, good)
	m, _, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(m.(*SnapshotRequest), now); err != nil {
		t.Fatalf("a good request: %v", err)
	}
	if err := v.Verify(good, now); !errors.Is(err, ErrReplayed) {
		t.Errorf("the same request again: %v, want %v", err, ErrReplayed)
	}

	changed := func(n byte, edit func(*SnapshotRequest)) *SnapshotRequest {
		r := sign(n, nil, key, testAgentID)
		edit(r)
		return r
	}
	for _, tc := range []struct {
		name string
		req  *SnapshotRequest
		want error
	}{
		{"unsigned", &SnapshotRequest{RequestID: testRequestID, Deadline: now.Add(time.Minute).UnixMilli()}, ErrUnsigned},
		{"signature without a nonce", changed(2, func(r *SnapshotRequest) { r.Nonce = nil }), ErrUnsigned},
		{"nonce without a signature", changed(3, func(r *SnapshotRequest) { r.Signature = nil }), ErrUnsigned},
		{"signed by another key", sign(4, nil, otherKey, testAgentID), ErrSignature},
		{"probes changed after signing", changed(5, func(r *SnapshotRequest) { r.Probes = []string{"processes"} }), ErrSignature},
		{"deadline changed after signing", changed(6, func(r *SnapshotRequest) { r.Deadline++ }), ErrSignature},
		{"request id changed after signing", changed(7, func(r *SnapshotRequest) { r.RequestID = "rq-other" }), ErrSignature},
		{"ticket changed after signing", changed(8, func(r *SnapshotRequest) { r.Ticket = "T-2" }), ErrSignature},
		{"agent changed after signing", changed(9, func(r *SnapshotRequest) { r.AgentID = "ag-other" }), ErrSignature},
		{"nonce changed after signing", changed(10, func(r *SnapshotRequest) { r.Nonce = nonce(99) }), ErrSignature},
		{"signature cut short", changed(11, func(r *SnapshotRequest) { r.Signature = r.Signature[:32] }), ErrSignature},
		{"for another agent", sign(12, nil, key, "ag-other"), ErrNotMine},
		{"expired", sign(13, func(r *SnapshotRequest) { r.Deadline = now.Add(-time.Millisecond).UnixMilli() }, key, testAgentID), ErrExpired},
		{"expiring now", sign(14, func(r *SnapshotRequest) { r.Deadline = now.UnixMilli() }, key, testAgentID), ErrExpired},
		{"living too long", sign(15, func(r *SnapshotRequest) { r.Deadline = now.Add(MaxRequestLife + time.Millisecond).UnixMilli() }, key, testAgentID), ErrExpired},
	} {
		if err := v.Verify(tc.req, now); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A refused request leaves no trace: signed properly, its nonce is new.
	if err := v.Verify(sign(4, nil, key, testAgentID), now); err != nil {
		t.Errorf("a good request with the nonce of a refused one: %v", err)
	}
	// Right at the longest life allowed, a request is accepted.
	if err := v.Verify(sign(20, func(r *SnapshotRequest) { r.Deadline = now.Add(MaxRequestLife).UnixMilli() }, key, testAgentID), now); err != nil {
		t.Errorf("a request living exactly MaxRequestLife: %v", err)
	}

	// An agent enrolled before request keys has none, and says so.
	if err := (&Verifier{AgentID: testAgentID}).Verify(sign(21, nil, key, testAgentID), now); !errors.Is(err, ErrSignature) || !bytes.Contains([]byte(err.Error()), []byte("re-enroll")) {
		t.Errorf("a verifier without a key: %v", err)
	}
	if err := (&SnapshotRequest{}).Sign(key, testAgentID, nonce(1)[:nonceLen-1]); err == nil {
		t.Error("Sign took a short nonce")
	}
}

// TestVerifierForgets: a nonce is remembered until its request expires,
// and forgotten after (within the 10 s of a bucket), so the verifier's
// memory stays bounded by the requests that are still alive.
func TestVerifierForgets(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Key: pub, AgentID: testAgentID}
	req := func(n byte, life time.Duration, at time.Time) *SnapshotRequest {
		r := &SnapshotRequest{RequestID: testRequestID, Deadline: at.Add(life).UnixMilli()}
		if err := r.Sign(key, testAgentID, bytes.Repeat([]byte{n}, nonceLen)); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for n := byte(1); n <= 3; n++ {
		if err := v.Verify(req(n, time.Minute, now), now); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Verify(req(9, 5*time.Minute, now), now); err != nil {
		t.Fatal(err)
	}
	if v.seen.n != 4 || len(v.seen.seen) != 4 {
		t.Fatalf("%d nonces remembered (%d in the map), want 4", v.seen.n, len(v.seen.seen))
	}
	// Once their bucket has ended, the first three are forgotten at the
	// next request, while the one still alive is kept.
	later := now.Add(time.Minute + time.Duration(nonceBucket)*time.Millisecond)
	if err := v.Verify(req(4, time.Minute, later), later); err != nil {
		t.Fatal(err)
	}
	if v.seen.n != 2 || len(v.seen.seen) != 2 {
		t.Errorf("%d nonces remembered a minute on, want 2 (the live one and the new one)", v.seen.n)
	}
	if err := v.Verify(req(9, 4*time.Minute, later), later); !errors.Is(err, ErrReplayed) {
		t.Errorf("the live request's nonce again: %v, want %v", err, ErrReplayed)
	}
}

// TestSignCoversProcesses: the process names a request asks about are
// signed like the rest; a collector-side change of any of them, their
// order or their number after signing fails verification.
func TestSignCoversProcesses(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Key: pub, AgentID: testAgentID}
	for i, edit := range []func(r *SnapshotRequest){
		nil,
		func(r *SnapshotRequest) { r.Processes[1] = "sonde-canary-pro" },
		func(r *SnapshotRequest) { r.Processes[0] = "JAVA" },
		func(r *SnapshotRequest) { r.Processes[0], r.Processes[1] = r.Processes[1], r.Processes[0] },
		func(r *SnapshotRequest) { r.Processes = r.Processes[:1] },
		func(r *SnapshotRequest) { r.Processes = append(r.Processes, "sshd") },
		func(r *SnapshotRequest) { r.Processes = nil },
	} {
		r := &SnapshotRequest{RequestID: testRequestID, Deadline: now.Add(time.Minute).UnixMilli(), Processes: []string{"java", "sonde-canary-proc"}}
		if err := r.Sign(key, testAgentID, bytes.Repeat([]byte{byte(i + 1)}, nonceLen)); err != nil {
			t.Fatal(err)
		}
		if edit == nil {
			if err := v.Verify(r, now); err != nil {
				t.Fatalf("a signed request with process names: %v", err)
			}
			continue
		}
		edit(r)
		if err := v.Verify(r, now); !errors.Is(err, ErrSignature) {
			t.Errorf("edit %d to %q after signing: %v, want %v", i, r.Processes, err, ErrSignature)
		}
	}
}

// TestSigningBytesWithoutProcesses: a request that names no processes,
// nil or empty, signs exactly as requests did before the field existed,
// so agents and collectors on either side of the change agree on the
// signatures of every other request. The golden file was written before
// the field was added.
func TestSigningBytesWithoutProcesses(t *testing.T) {
	b, err := os.ReadFile(goldenPath("snapshot-request"))
	if err != nil {
		t.Fatal(err)
	}
	_, payload := splitFrame(t, b)
	want := append([]byte("sonde/1 snapshot-request\x00"), payload...)
	for _, procs := range [][]string{nil, {}} {
		m := goldenMessage(t, "snapshot-request").(*SnapshotRequest)
		m.Processes = procs
		got, err := m.SigningBytes()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Processes %#v signs as\n%x\nwant (as before the field)\n%x", procs, got, want)
		}
	}
}

// TestSignCoversFreshHandshake: the connectivity-check flag is signed like
// the rest: set or cleared after signing, the request fails verification;
// left false, the request signs as it did before the field existed.
func TestSignCoversFreshHandshake(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Key: pub, AgentID: testAgentID}
	for i, fresh := range []bool{true, false} {
		r := &SnapshotRequest{RequestID: testRequestID, Deadline: now.Add(time.Minute).UnixMilli(), FreshHandshake: fresh}
		if err := r.Sign(key, testAgentID, bytes.Repeat([]byte{byte(2*i + 1)}, nonceLen)); err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(r, now); err != nil {
			t.Fatalf("a signed request, FreshHandshake %v: %v", fresh, err)
		}
		r.Nonce = bytes.Repeat([]byte{byte(2*i + 2)}, nonceLen)
		if err := r.Sign(key, testAgentID, r.Nonce); err != nil {
			t.Fatal(err)
		}
		r.FreshHandshake = !fresh
		if err := v.Verify(r, now); !errors.Is(err, ErrSignature) {
			t.Errorf("FreshHandshake turned %v after signing: %v, want %v", !fresh, err, ErrSignature)
		}
	}
	b, err := os.ReadFile(goldenPath("snapshot-request"))
	if err != nil {
		t.Fatal(err)
	}
	_, payload := splitFrame(t, b)
	m := goldenMessage(t, "snapshot-request").(*SnapshotRequest)
	if got, _ := m.SigningBytes(); !bytes.Equal(got, append([]byte("sonde/1 snapshot-request\x00"), payload...)) {
		t.Errorf("a request without the flag signs differently from before the field: %x", got)
	}
}

// TestSignCoversUserAgreed: the end user's agreement to heavy probes on a
// low battery is signed like the rest (a collector that did not sign it,
// or anyone on the way, cannot add it), and a request without it signs as
// before the field existed.
func TestSignCoversUserAgreed(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Key: pub, AgentID: testAgentID}
	for i, agreed := range []bool{true, false} {
		r := &SnapshotRequest{RequestID: testRequestID, Probes: []string{"logs"}, Deadline: now.Add(time.Minute).UnixMilli(), UserAgreed: agreed}
		if err := r.Sign(key, testAgentID, bytes.Repeat([]byte{byte(2*i + 1)}, nonceLen)); err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(r, now); err != nil {
			t.Fatalf("a signed request, UserAgreed %v: %v", agreed, err)
		}
		if err := r.Sign(key, testAgentID, bytes.Repeat([]byte{byte(2*i + 2)}, nonceLen)); err != nil {
			t.Fatal(err)
		}
		r.UserAgreed = !agreed
		if err := v.Verify(r, now); !errors.Is(err, ErrSignature) {
			t.Errorf("UserAgreed turned %v after signing: %v, want %v", !agreed, err, ErrSignature)
		}
	}
	b, err := os.ReadFile(goldenPath("snapshot-request"))
	if err != nil {
		t.Fatal(err)
	}
	_, payload := splitFrame(t, b)
	m := goldenMessage(t, "snapshot-request").(*SnapshotRequest)
	m.UserAgreed = false
	if got, _ := m.SigningBytes(); !bytes.Equal(got, append([]byte("sonde/1 snapshot-request\x00"), payload...)) {
		t.Errorf("a request without the flag signs differently from before the field: %x", got)
	}
	agreed := goldenMessage(t, "snapshot-request-agreed").(*SnapshotRequest)
	sb, _ := agreed.SigningBytes()
	if !bytes.Contains(sb, []byte{0x0b, 0xf5}) { // key 11, true
		t.Errorf("the signed bytes of an agreed request hold no key 11 = true: %x", sb)
	}
}
