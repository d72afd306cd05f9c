package diff

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// sock is a listening socket as the network probe reports it; pid 0
// leaves the owner out, as older snapshots do.
func sock(proto, addr string, port uint16, pid int32, process, cmdline string) map[string]any {
	s := map[string]any{"proto": proto, "address": addr, "port": port, "uid": 0, "inode": 1000 + int(port)}
	if pid > 0 {
		s["pid"], s["process"], s["cmdline"], s["user"] = pid, process, cmdline, "root"
	}
	return s
}

// netDoc is a document whose network probe lists socks.
func netDoc(t *testing.T, socks ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"interfaces": []any{}, "default_routes": []any{}, "listening": socks})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestListeningOwners: a port that went away names the program that had
// it, a new one the program that has it, and a port taken over by another
// program says so; a program restarted with a new PID is no change.
func TestListeningOwners(t *testing.T) {
	const nginx = "nginx: master process /usr/sbin/nginx -g daemon off;"
	from := netDoc(t,
		sock("tcp", "0.0.0.0", 22, 612, "sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
		sock("tcp", "0.0.0.0", 80, 1200, "nginx", nginx),
		sock("tcp", "0.0.0.0", 8080, 1234, "nginx", nginx),
		sock("tcp", "0.0.0.0", 8080, 1235, "nginx", "nginx: worker process"),
		sock("udp", "0.0.0.0", 123, 800, "chronyd", ""),
	)
	to := netDoc(t,
		sock("tcp", "0.0.0.0", 22, 700, "sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
		sock("tcp", "0.0.0.0", 80, 4100, "apache2", "/usr/sbin/apache2 -k start"),
		sock("tcp", "127.0.0.1", 8000, 2300, "python3", "python3 app.py --port 8000"),
		sock("udp", "0.0.0.0", 123, 0, "", ""),
	)
	d := Compare(doc("network", from), doc("network", to))
	want := []Change{
		{Kind: Removed, Subject: "listening port", Before: "tcp 0.0.0.0:8080 (nginx, PID 1234, `" + nginx + "`)"},
		{Kind: Added, Subject: "listening port", After: "tcp 127.0.0.1:8000 (python3, PID 2300, `python3 app.py --port 8000`)"},
		{Kind: Changed, Subject: "listening port tcp 0.0.0.0:80", Before: "nginx, PID 1200, `" + nginx + "`", After: "apache2, PID 4100, `/usr/sbin/apache2 -k start`"},
	}
	if got := changesOf(d, SectionNetwork); !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	var b strings.Builder
	if err := d.Text(&b); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"  - listening port: tcp 0.0.0.0:8080 (nginx, PID 1234, `" + nginx + "`)\n",
		"  + listening port: tcp 127.0.0.1:8000 (python3, PID 2300, `python3 app.py --port 8000`)\n",
		"  ~ listening port tcp 0.0.0.0:80: nginx, PID 1200, `" + nginx + "` → apache2, PID 4100, `/usr/sbin/apache2 -k start`\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("text lacks %q:\n%s", line, b.String())
		}
	}
}

// TestListeningOlderSnapshots: snapshots from before the probe named
// owners diff as they did; against a newer one, a socket the older one
// has no owner for is no change of program, and one that went away is
// said without an owner.
func TestListeningOlderSnapshots(t *testing.T) {
	old := netDoc(t, sock("tcp", "0.0.0.0", 22, 0, "", ""), sock("tcp", "0.0.0.0", 8080, 0, "", ""))
	d := Compare(doc("network", old), doc("network", netDoc(t, sock("tcp", "0.0.0.0", 22, 612, "sshd", ""))))
	want := []Change{{Kind: Removed, Subject: "listening port", Before: "tcp 0.0.0.0:8080"}}
	if got := changesOf(d, SectionNetwork); !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	d = Compare(doc("network", netDoc(t, sock("tcp", "::", 443, 90, "caddy", ""))), doc("network", old))
	want = []Change{
		{Kind: Removed, Subject: "listening port", Before: "tcp [::]:443 (caddy, PID 90)"},
		{Kind: Added, Subject: "listening port", After: "tcp 0.0.0.0:22"},
		{Kind: Added, Subject: "listening port", After: "tcp 0.0.0.0:8080"},
	}
	if got := changesOf(d, SectionNetwork); !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestListeningOwnerBounded: an owner's command line is cut in a change,
// and a PID without a name (a Windows socket whose process is gone) is
// said alone.
func TestListeningOwnerBounded(t *testing.T) {
	long := strings.Repeat("x", 3*maxOwnerCmdline)
	d := Compare(doc("network", netDoc(t, sock("tcp", "0.0.0.0", 1, 7, "a", long), sock("tcp", "0.0.0.0", 2, 8, "", ""))),
		doc("network", netDoc(t)))
	got := changesOf(d, SectionNetwork)
	if len(got) != 2 || len(got[0].Before) > len("tcp 0.0.0.0:1 (a, PID 7, ``)…")+maxOwnerCmdline ||
		!strings.HasSuffix(got[0].Before, "…`)") || got[1].Before != "tcp 0.0.0.0:2 (PID 8)" {
		t.Errorf("got %+v", got)
	}
}
