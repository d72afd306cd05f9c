package diff

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// doc makes a full document of probe names and their JSON data.
func doc(probes ...string) *protocol.Document {
	d := &protocol.Document{Kind: "full"}
	for i := 0; i+1 < len(probes); i += 2 {
		d.Probes = append(d.Probes, protocol.ProbeJSON{Name: probes[i], Data: json.RawMessage(probes[i+1])})
	}
	return d
}

func changesOf(d *Diff, section string) []Change {
	s := d.Section(section)
	if s == nil {
		return nil
	}
	return s.Changes
}

func TestRatioThreshold(t *testing.T) {
	for _, c := range []struct {
		before, after string
		change        bool
	}{
		{"0.50", "0.5099", false},
		{"0.50", "0.51", true},
		{"0.51", "0.50", true},
		{"0.5", "0.5", false},
	} {
		mem := func(r string) string { return `{"used_ratio":` + r + `,"swap":{"total_bytes":0,"used_bytes":0}}` }
		d := Compare(doc("memory", mem(c.before)), doc("memory", mem(c.after)))
		if got := len(changesOf(d, SectionMemory)) == 1; got != c.change {
			t.Errorf("%s → %s: change %v, want %v", c.before, c.after, got, c.change)
		}
	}
	d := Compare(doc("memory", `{"used_ratio":0.51,"swap":{}}`), doc("memory", `{"used_ratio":0.4,"swap":{}}`))
	c := changesOf(d, SectionMemory)
	if len(c) != 1 || c[0].Delta == nil || *c[0].Delta != -11 || c[0].Trend != "down" || c[0].Before != "51.0%" || c[0].After != "40.0%" {
		t.Errorf("memory change %+v", c)
	}
}

func TestOutOfRangeRatios(t *testing.T) {
	d := Compare(
		doc("memory", `{"used_ratio":1e308,"swap":{}}`, "disk", `{"mounts":[{"mountpoint":"/","used_ratio":-5,"inodes_used_ratio":0.1}]}`),
		doc("memory", `{"used_ratio":-1e308,"swap":{}}`, "disk", `{"mounts":[{"mountpoint":"/","used_ratio":0.5,"inodes_used_ratio":0.1}]}`))
	if !d.Empty() {
		t.Errorf("changes from out-of-range ratios: %+v", allChanges(d))
	}
	if len(d.Section(SectionMemory).Notes) != 1 || len(d.Section(SectionDisk).Notes) != 1 {
		t.Errorf("notes: %+v", d.Sections)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Error(err)
	}
}

func TestSwap(t *testing.T) {
	const gib = 1 << 30
	mem := func(total, used uint64) string {
		b, _ := json.Marshal(map[string]any{"used_ratio": 0.2, "swap": map[string]uint64{"total_bytes": total, "used_bytes": used}})
		return string(b)
	}
	// A hundredth of 4 GiB is about 41 MiB: 30 MiB more is no change.
	if d := Compare(doc("memory", mem(4*gib, gib)), doc("memory", mem(4*gib, gib+30<<20))); !d.Empty() {
		t.Errorf("small swap change reported: %+v", allChanges(d))
	}
	d := Compare(doc("memory", mem(4*gib, gib)), doc("memory", mem(2*gib, 0)))
	want := []Change{
		{Kind: Changed, Subject: "swap size", Before: "4.0 GiB", After: "2.0 GiB"},
		{Kind: Changed, Subject: "swap used", Before: "1.0 GiB", After: "0 B", Trend: "down"},
	}
	if got := changesOf(d, SectionMemory); !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// A health result has the swap's use alone.
	d = Compare(doc("memory", mem(4*gib, 0)), doc("memory", `{"used_ratio":0.2,"swap_used_bytes":1073741824}`))
	if got := changesOf(d, SectionMemory); len(got) != 1 || got[0].After != "1.0 GiB" {
		t.Errorf("full against health: %+v", got)
	}
}

// TestListeningCutShort: a list the agent cut short says nothing of the
// sockets it left off.
func TestListeningCutShort(t *testing.T) {
	net := func(left int, ports ...string) string {
		var socks []string
		for _, p := range ports {
			socks = append(socks, `{"proto":"tcp","address":"0.0.0.0","port":`+p+`}`)
		}
		return `{"interfaces":[],"default_routes":[],"listening":[` + strings.Join(socks, ",") + `],"listening_left_off":` + strconv.Itoa(left) + `}`
	}
	d := Compare(doc("network", net(0, "22", "80")), doc("network", net(3, "22", "443")))
	want := []Change{{Kind: Added, Subject: "listening port", After: "tcp 0.0.0.0:443"}}
	if got := changesOf(d, SectionNetwork); !slices.Equal(got, want) {
		t.Errorf("later cut short: got %+v, want %+v", got, want)
	}
	d = Compare(doc("network", net(3, "22", "80")), doc("network", net(0, "22", "443")))
	want = []Change{{Kind: Removed, Subject: "listening port", Before: "tcp 0.0.0.0:80"}}
	if got := changesOf(d, SectionNetwork); !slices.Equal(got, want) {
		t.Errorf("earlier cut short: got %+v, want %+v", got, want)
	}
	if len(d.Section(SectionNetwork).Notes) != 1 {
		t.Errorf("no note on the cut: %+v", d.Section(SectionNetwork))
	}
}

// TestUnreadNetwork: lists the probe failed to read are not comparable,
// rather than empty.
func TestUnreadNetwork(t *testing.T) {
	a := `{"interfaces":[{"name":"eth0","addrs":["192.0.2.2/24"]}],"default_routes":[{"family":"ipv4","interface":"eth0","gateway":"192.0.2.1"}],"listening":[{"proto":"tcp","address":"::","port":22}]}`
	b := `{"interfaces":null,"default_routes":null,"listening":null,"errors":["listing interfaces: x","reading routes: y","reading sockets: z"]}`
	d := Compare(doc("network", a), doc("network", b))
	if !d.Empty() || len(d.Section(SectionNetwork).Notes) != 3 {
		t.Errorf("got %+v", d.Sections)
	}
}

func TestServicesCutShort(t *testing.T) {
	svc := func(left int, names ...string) string {
		var units []string
		for _, n := range names {
			units = append(units, `{"name":"`+n+`","active_state":"active","sub_state":"running"}`)
		}
		return `{"failed":[],"services":[` + strings.Join(units, ",") + `],"services_left_off":` + strconv.Itoa(left) + `}`
	}
	// The later list stops at b: c is beyond it, not removed; a is.
	d := Compare(doc("services", svc(0, "a", "b", "c")), doc("services", svc(1, "b")))
	want := []Change{{Kind: Removed, Subject: "a", Before: "active (running)"}}
	if got := changesOf(d, SectionServices); !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestSoftwareAppears(t *testing.T) {
	pkgs := `{"packages":[{"name":"curl","version":"8.5.0"}]}`
	d := Compare(doc("cpu", `{}`), doc("software", pkgs))
	if !d.Empty() || d.Section(SectionSoftware) == nil {
		t.Errorf("software on one side only: %+v", d.Sections)
	}
	if d := Compare(doc("cpu", `{}`), doc("cpu", `{}`)); d.Section(SectionSoftware) != nil {
		t.Error("software section without a software probe")
	}
	d = Compare(doc("software", `{"packages":[]}`), doc("software", pkgs))
	want := []Change{{Kind: Added, Subject: "curl", After: "8.5.0"}}
	if got := changesOf(d, SectionSoftware); !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestRebootSlack(t *testing.T) {
	sys := func(boot string) string { return `{"os":"linux","kernel_version":"6.1","boot_time":` + boot + `}` }
	if d := Compare(doc("system", sys("1795500000")), doc("system", sys("1795500001"))); !d.Empty() {
		t.Errorf("a second's wobble is a reboot: %+v", allChanges(d))
	}
	if d := Compare(doc("system", sys("-9223372036854775808")), doc("system", sys("9223372036854775807"))); !d.Empty() {
		t.Errorf("a negative boot time is a reboot: %+v", allChanges(d))
	}
	d := Compare(doc("system", sys("1795500000")), doc("system", sys("1795560000")))
	if got := changesOf(d, SectionSystem); len(got) != 1 || got[0].Subject != "rebooted (boot time)" {
		t.Errorf("reboot: %+v", got)
	}
}

func TestTextCleansUntrustedStrings(t *testing.T) {
	d := Compare(
		doc("services", `{"services":[{"name":"a\u001b]0;pwned\u0007.service","active_state":"active"}]}`),
		doc("services", `{"services":[{"name":"a\u001b]0;pwned\u0007.service","active_state":"failed\r\nroot# "}]}`))
	d.Notes = append(d.Notes, strings.Repeat("\u009b", 1000))
	var b bytes.Buffer
	if err := d.Text(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, r := range out {
		if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
			t.Fatalf("control character %U in %q", r, out)
		}
	}
	if !strings.Contains(out, `a\x1b]0;pwned\x07.service: active → failed\x0d\x0aroot# `) {
		t.Errorf("text:\n%s", out)
	}
	if len(out) > 2000 {
		t.Errorf("a long note is not cut short: %d bytes", len(out))
	}
}

func TestManyChangesAreBounded(t *testing.T) {
	var pkgs []string
	for i := range maxChanges + 20 {
		pkgs = append(pkgs, `{"name":"p`+strconv.Itoa(i)+`","version":"1"}`)
	}
	d := Compare(doc("software", `{"packages":[]}`), doc("software", `{"packages":[`+strings.Join(pkgs, ",")+`]}`))
	s := d.Section(SectionSoftware)
	if len(s.Changes) != maxChanges || s.LeftOff != 20 || d.Empty() {
		t.Errorf("%d changes, %d left off", len(s.Changes), s.LeftOff)
	}
}

func TestClip(t *testing.T) {
	if got := clip("héllo", 2); got != "h…" {
		t.Errorf("clip = %q", got)
	}
	if got := clip("abc", 3); got != "abc" {
		t.Errorf("clip = %q", got)
	}
}
