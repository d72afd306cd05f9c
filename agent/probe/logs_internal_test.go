package probe

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestLogsSignature(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"I/O error, dev sda, sector 2048 op 0x0:(READ)", "I/O error, dev sda, sector # op #:(READ)"},
		{"usb 3-2: device descriptor read/64, error -71", "usb #: device descriptor read/#, error -#"},
		{"firefox[1234]: segfault at 7f3a2b1c ip 00007f3a2b1c4d5e", "firefox[#]: segfault at # ip #"},
		{"link up on eth0, sda1 mounted, ext4 ok", "link up on eth0, sda1 mounted, ext4 ok"},
		{"client: 10.0.3.17, mac 00:1a:2b:3c:4d:5e, id 550e8400-e29b-41d4-a716-446655440000", "client: #, mac #, id #"},
		{"took 150ms, freed 2960kB at 12:03:44", "took #ms, freed #kB at #"},
		{"NVRM: Xid (PCI:0000:3b:00): 79", "NVRM: Xid (PCI:#:#:#): #"},
		{"dead beef cafe", "dead beef cafe"},
		{"session a8Kf93jdLq02mZ7xQw4R expired, GFP_HIGHUSER_MOVABLE", "session # expired, GFP_HIGHUSER_MOVABLE"},
		{"kernel 5.15.0-91-generic.", "kernel #.#.#-#-generic."},
		{"password=[REDACTED:config-secret] for user 42", "password=[REDACTED:config-secret] for user #"},
	} {
		if got := signature(c.in); got != c.want {
			t.Errorf("signature(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := signature(strings.Repeat("é word ", 100)); len(got) > maxSignature || !strings.HasPrefix(got, "é word") {
		t.Errorf("a long message's signature is %d bytes: %q", len(got), got)
	}
	// Non-word runes that reach the bound are kept whole or not at all.
	for pad := range 3 {
		msg := strings.Repeat("#", pad) + strings.Repeat("\uFFFD", 100)
		if got := signature(msg); len(got) > maxSignature || !utf8.ValidString(got) {
			t.Errorf("signature of %d bytes, valid UTF-8 %v: %q", len(got), utf8.ValidString(got), got)
		}
	}
}

func TestLogsCleanMessage(t *testing.T) {
	for _, c := range []struct {
		in, want string
		cut      bool
	}{
		{"two\nlines\tand  blanks ", "two lines and blanks", false},
		{"\x1b[31mERROR\x1b[0m failed", "ERROR failed", false},
		{"bad \xff byte", "bad \uFFFD byte", false},
		// Past the bound, the word the bound falls in goes: half a secret
		// would escape the rules.
		{strings.Repeat("a ", maxRawMessage/2-2) + "token=ghp_0123456789abcdefghij0123456789abcdef", strings.TrimSpace(strings.Repeat("a ", maxRawMessage/2-2)), true},
		{strings.Repeat("x", 3*maxRawMessage), "", true},
	} {
		got, cut := cleanMessage(c.in)
		if got != c.want || cut != c.cut {
			t.Errorf("cleanMessage(%.40q...) = %.60q, %v; want %.60q, %v", c.in, got, cut, c.want, c.cut)
		}
	}
	if got, cut := cutWords("héllo wörld", 9, true); got != "héllo" || !cut {
		t.Errorf("cutWords at a space: %q %v", got, cut)
	}
	if got, _ := cutWords("hééééé", 4, true); got != "hé" {
		t.Errorf("cutWords inside a rune: %q", got)
	}
}

func TestKmsgScannerChunks(t *testing.T) {
	data := "6,1,100,-;first\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:14.3\n3,2,200,-,caller=T12;second; with semicolon\n" +
		"garbage\n" + strings.Repeat("x", maxKmsgLine+10) + "\n11,3,300,c;sonde: third"
	var whole []kmsgRecord
	sc := kmsgScanner{fn: func(r kmsgRecord) { whole = append(whole, r) }}
	sc.feed([]byte(data))
	sc.end()
	if len(whole) != 3 || whole[1].msg != "second; with semicolon" || whole[1].level != 3 || whole[2].facility != 1 || whole[2].usec != 300 {
		t.Fatalf("records: %+v", whole)
	}
	for _, size := range []int{1, 2, 7, 64} {
		var got []kmsgRecord
		sc := kmsgScanner{fn: func(r kmsgRecord) { got = append(got, r) }}
		for b := []byte(data); len(b) > 0; b = b[min(size, len(b)):] {
			sc.feed(b[:min(size, len(b))])
		}
		sc.end()
		if len(got) != len(whole) {
			t.Errorf("fed %d bytes at a time: %d records, want %d", size, len(got), len(whole))
		}
	}
}

func TestJournalString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`"plain"`, "plain"},
		{`[104,105]`, "hi"},
		{`["one","two"]`, "one two"},
		{`["one",[116,119,111]]`, "one two"},
		{`[300]`, ""},
		{`null`, ""},
		{`42`, ""},
		{``, ""},
	} {
		if got := journalString([]byte(c.in)); got != c.want {
			t.Errorf("journalString(%s) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCrashNames(t *testing.T) {
	c, ok := parseCoreName(`core.Web\x20Content.1000.4f1c2a9e7b3d4e8a9c612d5f0e8b7a13.4242.1773140000000000.zst`)
	if !ok || c.Program != "Web Content" || c.PID != 4242 || !c.time.Equal(time.Unix(1773140000, 0)) {
		t.Errorf("core name: %+v %v", c, ok)
	}
	for _, bad := range []string{"core.x", "core.a.1000.nothex.1.2", "core.a.x.4f1c2a9e7b3d4e8a9c612d5f0e8b7a13.1.2", "notcore.a.1.4f1c2a9e7b3d4e8a9c612d5f0e8b7a13.1.2"} {
		if _, ok := parseCoreName(bad); ok {
			t.Errorf("%q parsed as a core", bad)
		}
	}
	c, ok = reportByName("Google Chrome Helper-2026-03-10-081233.ips", time.UTC)
	if !ok || c.Program != "Google Chrome Helper" || c.time.Hour() != 8 {
		t.Errorf("report name: %+v %v", c, ok)
	}
	h := parseApportHeader(strings.NewReader("ProblemType: Crash\nProcCmdline: /bin/x --password=secret\nDate: Tue Mar 10 09:30:12 2026\n" +
		" continued\nExecutablePath: /bin/x\nPackage: x 1.0\nProcEnviron:\n TOKEN=secret\n"))
	if len(h) != 4 || h["Package"] != "x 1.0" || h["ProcCmdline"] != "" {
		t.Errorf("apport header: %v", h)
	}
}

func TestLogsKernelEvents(t *testing.T) {
	r := newLogsRun(&Env{}, time.Unix(1773144000, 0), defaultLogsLimits)
	st := &LogSource{Name: "kmsg"}
	at := time.Unix(1773140000, 0)
	for i, msg := range []string{
		"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=Web Content,pid=77,uid=1000",
		"Out of memory: Killed process 77 (Web Content) total-vm:1kB",
		"Out of memory: Killed process 78 (other) total-vm:1kB",
		"blk_update_request: I/O error, dev nvme0n1, sector 12 op 0x1:(WRITE)",
		"Buffer I/O error on dev dm-0, logical block 3",
		"Web Content[4242]: segfault at 0 ip 0 sp 0 error 4",
		"NVRM: Xid (PCI:0000:01:00): 79, pid=1, name=x, GPU has fallen off the bus.",
		"a user wrote Killed process 99 (fake)",
	} {
		r.entry(st, logEntry{time: at.Add(time.Duration(i) * time.Second), severity: 3, message: msg, kernel: i < 7})
	}
	res := r.result()
	k := res.Kernel
	if k.Counts != (KernelCounts{OOMKills: 2, IOErrors: 2, Segfaults: 1, GPUResets: 1}) {
		t.Errorf("counts: %+v", k.Counts)
	}
	if k.OOMKills[1].Process != "Web Content" || k.OOMKills[1].PID != 77 || k.IOErrors[1].Device != "nvme0n1" ||
		k.IOErrors[0].Device != "dm-0" || k.Segfaults[0].Process != "Web Content" || k.GPUResets[0].Driver != "nvidia" {
		t.Errorf("events: %+v", k)
	}
}

// TestLogsGroupsMergeSecrets: messages that differ only by a secret are
// one group once scrubbed, and only the listed examples are scrubbed.
func TestLogsGroupsMergeSecrets(t *testing.T) {
	env := &Env{}
	limits := defaultLogsLimits
	limits.Groups = 2
	r := newLogsRun(env, time.Unix(1773144000, 0), limits)
	st := &LogSource{Name: "journal"}
	at := time.Unix(1773140000, 0)
	for i, msg := range []string{"login failed password=alpha", "login failed password=bravo", "disk full", "disk full", "disk full", "rare one"} {
		r.entry(st, logEntry{time: at.Add(time.Duration(i) * time.Second), severity: 3, source: "app", message: msg})
	}
	res := r.result()
	if len(res.Groups) != 2 || res.Groups[0].Count != 3 || res.Groups[1].Count != 2 ||
		res.Groups[1].Example != "login failed password=[REDACTED:config-secret]" || res.GroupsOmitted != 1 || res.EntriesOmitted != 1 {
		t.Fatalf("groups: %+v, %d omitted (%d entries)", res.Groups, res.GroupsOmitted, res.EntriesOmitted)
	}
	if s := env.scrubbed(); len(s) != 1 || s[0].Count != 2 {
		t.Errorf("scrubbed: %+v", s)
	}
}
