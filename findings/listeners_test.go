package findings

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// lsock is a listening socket as the network probe reports it; pid 0
// leaves its owner out, as older snapshots and hidden processes do.
func lsock(proto string, port int, pid int32, process string) map[string]any {
	s := map[string]any{"proto": proto, "address": "0.0.0.0", "port": port, "uid": 0, "inode": 1000 + port}
	if proto == "tcp6" {
		s["address"] = "::"
	}
	if pid > 0 {
		s["pid"], s["process"], s["cmdline"], s["user"] = pid, process, process+" --serve", "www-data"
	}
	return s
}

// listening is a full network result listing socks.
func listening(socks ...map[string]any) probes {
	if socks == nil {
		socks = []map[string]any{}
	}
	return probes{"network": map[string]any{"interfaces": []any{}, "default_routes": []any{}, "listening": socks}}
}

// stoppedIn analyzes cur over history (newest first, an hour apart) and
// returns the listener-stopped findings' titles.
func stoppedIn(cur probes, history ...probes) []string {
	var docs []*protocol.Document
	for i, h := range history {
		docs = append(docs, snap(now.Add(-time.Duration(i+1)*time.Hour), h))
	}
	var titles []string
	for _, f := range only(analyze(snap(now, cur), docs, false), "network.listener-stopped") {
		titles = append(titles, f.Title)
	}
	return titles
}

func TestListenerStopped(t *testing.T) {
	nginx := lsock("tcp", 8080, 1234, "nginx")
	sshd := lsock("tcp", 22, 612, "sshd")
	title := "The service on :8080 (nginx, PID 1234) stopped listening since the last snapshot"
	health := probes{"network": map[string]any{"interfaces": []any{}, "default_route": true, "resolvers": 1}}
	for _, tc := range []struct {
		name    string
		now     probes
		history []probes
		want    []string
	}{
		{"gone", listening(sshd), []probes{listening(sshd, nginx)}, []string{title}},
		{"no history", listening(sshd), nil, nil},
		{"still there", listening(sshd, nginx), []probes{listening(sshd, nginx)}, nil},
		{"another program has it", listening(lsock("tcp6", 8080, 99, "python3")), []probes{listening(nginx)}, nil},
		{"owner unknown", listening(), []probes{listening(lsock("tcp", 8080, 0, ""))}, nil},
		{"udp", listening(), []probes{listening(lsock("udp", 8080, 1234, "nginx"))}, nil},
		// The newest older snapshot that listed the sockets counts.
		{"after a health snapshot", listening(sshd), []probes{health, listening(sshd, nginx)}, []string{title}},
		{"only the newest", listening(sshd), []probes{listening(sshd), listening(sshd, nginx)}, nil},
		// Sockets not read now, or cut short, say nothing of a port.
		{"health now", health, []probes{listening(nginx)}, nil},
		{"unread now", probes{"network": map[string]any{"listening": nil, "errors": []string{"reading sockets: x"}}}, []probes{listening(nginx)}, nil},
		{"failed now", probes{"network": map[string]any{"listening": []any{}, "errors": []string{"reading sockets: x"}}}, []probes{listening(nginx)}, nil},
		{"cut short now", probes{"network": map[string]any{"listening": []any{sshd}, "listening_left_off": 3}}, []probes{listening(nginx)}, nil},
		// TCP comes first: a list cut short in its UDP part has every TCP port.
		{"cut short in udp", probes{"network": map[string]any{"listening": []any{sshd, lsock("udp", 53, 7, "dnsmasq")}, "listening_left_off": 900}},
			[]probes{listening(sshd, nginx)}, []string{title}},
		{"unread before", listening(), []probes{{"network": map[string]any{"listening": []any{nginx}, "errors": []string{"reading sockets: x"}}}}, nil},
		// Of workers sharing the port, the named one of lowest PID.
		{"workers", listening(), []probes{listening(lsock("tcp", 8080, 1300, "nginx"), lsock("tcp6", 8080, 0, ""), nginx)}, []string{title}},
	} {
		if got := stoppedIn(tc.now, tc.history...); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestListenerStoppedEphemeral: a port from EphemeralPortStart up counts
// only once the same program had it in the two newest snapshots that
// listed the sockets.
func TestListenerStoppedEphemeral(t *testing.T) {
	title := func(port int) string {
		return fmt.Sprintf("The service on :%d (code, PID 77) stopped listening since the last snapshot", port)
	}
	for _, tc := range []struct {
		port    int
		history []probes
		want    []string
	}{
		{EphemeralPortStart - 1, []probes{listening(lsock("tcp", EphemeralPortStart-1, 77, "code"))}, []string{title(EphemeralPortStart - 1)}},
		{EphemeralPortStart, []probes{listening(lsock("tcp", EphemeralPortStart, 77, "code"))}, nil},
		{EphemeralPortStart, []probes{listening(lsock("tcp", EphemeralPortStart, 77, "code")), listening(lsock("tcp", EphemeralPortStart, 70, "code"))},
			[]string{title(EphemeralPortStart)}},
		{65535, []probes{listening(lsock("tcp", 65535, 77, "code")), listening(lsock("tcp", 65535, 70, "node"))}, nil},
		{65535, []probes{listening(lsock("tcp", 65535, 77, "code")), listening(), listening(lsock("tcp", 65535, 70, "code"))}, nil},
	} {
		if got := stoppedIn(listening(), tc.history...); !slices.Equal(got, tc.want) {
			t.Errorf("port %d over %d snapshots: %q, want %q", tc.port, len(tc.history), got, tc.want)
		}
	}
}

func TestListenerStoppedEvidence(t *testing.T) {
	prev := snap(now.Add(-time.Hour), listening(lsock("tcp", 8080, 1234, "nginx"), lsock("tcp6", 8080, 1234, "nginx")))
	f := one(t, analyze(snap(now, listening()), []*protocol.Document{prev}, false), "network.listener-stopped")
	want := map[string]any{"port": uint16(8080), "addresses": []string{"0.0.0.0", "::"}, "process": "nginx", "pid": int32(1234),
		"cmdline": "nginx --serve", "user": "www-data", "last_seen": "2026-11-24T21:00:00Z"}
	if fmt.Sprint(f.Evidence) != fmt.Sprint(want) || f.Subject != ":8080" || f.Severity != Warning {
		t.Errorf("%+v, want evidence %v", f, want)
	}
}
