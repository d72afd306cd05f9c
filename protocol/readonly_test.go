package protocol

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The agent is read-only by construction: no message runs a command, writes
// a file or carries a query, so a collector, even a compromised one, can
// only read diagnostics (README, "What the agent will never do"). This file
// backs that claim by enumeration, not by names: every message in the
// registry, and every field of every one, recursively, must be listed
// below with its Go type, the guard that bounds what it can carry, and why
// it cannot make an agent act. A new message or a new field fails
// TestReadOnlyByConstruction until someone reviews it and lists it here,
// on purpose, in review.

// guard is what bounds the content of a field. Every guard but plain and
// nested is checked: Validate must refuse what the guard keeps out.
type guard int

const (
	// guardPlain: a number or a flag; it carries nothing but its value.
	guardPlain guard = iota
	// guardNested: a struct, or a list of structs, whose fields are listed in
	// their own right; a list is bounded at max entries.
	guardNested
	// guardID: ValidID, ASCII letters, digits, '-', '_' and '.', at most
	// MaxIDLen bytes: no space, no slash, no shell syntax.
	guardID
	// guardProbeName: ValidProbeName, a compiled-in probe's kebab-case name;
	// a list of them is bounded at max entries.
	guardProbeName
	// guardTrigger: ValidTrigger, a short kebab-case word.
	guardTrigger
	// guardOpaque: at most max bytes (exactly max for a key) that the receiver
	// compares, hashes or hands to crypto/x509 or ed25519, never runs.
	guardOpaque
	// guardText: free UTF-8 text of at most max bytes that the receiver stores,
	// logs or shows, never runs. Only in messages an agent sends, but for
	// Error.Message (see agentLogsOnly).
	guardText
	// guardJSON: a JSON document of at most max bytes that the collector
	// stores and analyses. Only in messages an agent sends.
	guardJSON
	// guardProcessName: ValidProcessName, 1 to MaxProcessNameLen bytes of
	// UTF-8 without control or format characters or path separators, that
	// the agent compares with the names of running processes; a list of
	// them is bounded at max entries.
	guardProcessName
)

func (g guard) String() string {
	return [...]string{"plain", "nested", "id", "probe-name", "trigger", "opaque", "text", "json", "process-name"}[g]
}

// allowed is the review of one field.
type allowed struct {
	typ    string // the Go type, as reflect prints it
	guard  guard
	max    int
	reason string
}

// toAgent and fromAgent say which way each message travels. What an agent
// reads is what could make it act.
var (
	toAgent   = map[string]bool{"Welcome": true, "SnapshotRequest": true, "Ack": true, "Error": true, "Enrolled": true, "Renewed": true}
	fromAgent = map[string]bool{"Hello": true, "Snapshot": true, "Error": true, "Enroll": true, "Renew": true, "Introduce": true}
)

// agentLogsOnly are the free-text fields an agent reads: it logs them and
// shows them in its status, and nothing parses them.
var agentLogsOnly = map[string]bool{"Error.Message": true}

// factsFields reviews the machine facts under prefix: an agent reports
// them; the collector stores and shows them.
func factsFields(prefix string) map[string]allowed {
	m := map[string]allowed{
		prefix:                  {"protocol.Facts", guardNested, 0, "the machine's static facts, reported by the agent"},
		prefix + ".CPUs":        {"int", guardPlain, 0, "a count"},
		prefix + ".MemoryBytes": {"uint64", guardPlain, 0, "a size"},
		prefix + ".BootTime":    {"int64", guardPlain, 0, "a time"},
	}
	for _, f := range []string{"Hostname", "OS", "Platform", "PlatformFamily", "PlatformVersion", "KernelVersion", "Arch", "Virtualization", "HostID", "CPUModel"} {
		m[prefix+"."+f] = allowed{"string", guardText, MaxTextLen, "a fact the agent read on its machine; the collector stores and shows it, escaped"}
	}
	return m
}

// readOnlyAllowList is every field of every message, reviewed.
var readOnlyAllowList = func() map[string]allowed {
	m := map[string]allowed{
		"Hello.AgentID":      {"string", guardID, 0, "the agent's own ID; the collector checks it against the certificate"},
		"Hello.AgentVersion": {"string", guardText, MaxTextLen, "shown to L2"},
		"Hello.Versions":     {"[]uint8", guardOpaque, 16, "protocol version numbers, compared"},
		"Hello.BootEpoch":    {"int64", guardPlain, 0, "a time"},
		"Hello.Probes":       {"[]string", guardProbeName, MaxProbes, "the probes compiled into the agent, shown to L2"},
		"Hello.AgentTime":    {"int64", guardPlain, 0, "a time, to measure clock skew"},
		"Hello.Challenge":    {"[]uint8", guardOpaque, ChallengeLen, "random bytes the collector signs in its welcome's proof"},

		"Welcome.CollectorTime":  {"int64", guardPlain, 0, "a time, to estimate the agent's clock offset"},
		"Welcome.HealthInterval": {"int64", guardPlain, 0, "a period; the agent bounds its own work whatever it says"},
		"Welcome.Proof":          {"[]uint8", guardOpaque, 64, "an Ed25519 signature, verified before the agent says anything of its machine"},

		"Introduce.BootEpoch": {"int64", guardPlain, 0, "a time"},
		"Introduce.Probes":    {"[]string", guardProbeName, MaxProbes, "the probes compiled into the agent, shown to L2"},

		"SnapshotRequest.RequestID":      {"string", guardID, 0, "names the request, echoed in the snapshot"},
		"SnapshotRequest.Probes":         {"[]string", guardProbeName, MaxProbes, "names of compiled-in probes: the agent runs only probes it has (it refuses others), with no argument"},
		"SnapshotRequest.Deadline":       {"int64", guardPlain, 0, "a time; the agent caps the work it allows"},
		"SnapshotRequest.AgentID":        {"string", guardID, 0, "the agent the signature binds the request to"},
		"SnapshotRequest.Nonce":          {"[]uint8", guardOpaque, 64, "random bytes, remembered against replay"},
		"SnapshotRequest.Signature":      {"[]uint8", guardOpaque, 128, "an Ed25519 signature, verified"},
		"SnapshotRequest.Ticket":         {"string", guardID, 0, "a ticket reference, shown in the end user's receipts"},
		"SnapshotRequest.FreshHandshake": {"bool", guardPlain, 0, "a flag: the network probe times a fresh connection to the collector the agent is enrolled with, as every full snapshot once did; no address, argument or transport comes with it"},
		"SnapshotRequest.Fresh":          {"bool", guardPlain, 0, "a flag: run the probes now (within the agent's on-demand budget) rather than answer with a run of the same probes that finished seconds ago; it can only make the agent do what the same request without it does"},
		"SnapshotRequest.UserAgreed":     {"bool", guardPlain, 0, "a flag: the end user agreed to heavy probes on a low battery; it can only make the agent do what the same request does on mains power"},
		"SnapshotRequest.Processes":      {"[]string", guardProcessName, MaxProcessNames, "names of processes L2 asks about: the processes probe compares them with the names of the processes it lists anyway and reports the matches; never a path, an argument or a pattern, and nothing is started, opened or signalled by them"},

		"Snapshot.RequestID":                 {"string", guardID, 0, "echoes the request"},
		"Snapshot.Kind":                      {"protocol.Kind", guardPlain, 0, "full or health"},
		"Snapshot.AgentID":                   {"string", guardID, 0, "checked against the connection's certificate"},
		"Snapshot.BootEpoch":                 {"int64", guardPlain, 0, "part of the snapshot's identity"},
		"Snapshot.Seq":                       {"uint64", guardPlain, 0, "part of the snapshot's identity"},
		"Snapshot.CapturedAt":                {"int64", guardPlain, 0, "a time"},
		"Snapshot.Probes":                    {"[]protocol.ProbeResult", guardNested, MaxProbes, "the probes' results"},
		"Snapshot.Probes[].Name":             {"string", guardProbeName, 0, "the probe that ran"},
		"Snapshot.Probes[].Data":             {"[]uint8", guardJSON, MaxProbeData, "what the probe read; the collector stores it and its analyzers read it as data"},
		"Snapshot.Probes[].Error":            {"string", guardText, MaxTextLen, "why the probe failed, shown to L2"},
		"Snapshot.Probes[].Duration":         {"int64", guardPlain, 0, "a duration"},
		"Snapshot.Probes[].Scrubbed":         {"[]protocol.Scrub", guardNested, MaxScrubRules, "counts of what the agent scrubbed, by rule, for the bundle's redaction report"},
		"Snapshot.Probes[].Scrubbed[].Rule":  {"string", guardProbeName, 0, "a redaction rule's ID, shown in the report"},
		"Snapshot.Probes[].Scrubbed[].Count": {"uint32", guardPlain, 0, "a count"},
		"Snapshot.Trigger":                   {"string", guardTrigger, 0, "the local fault that made the agent take it"},

		"Ack.AgentID":   {"string", guardID, 0, "names the snapshot acknowledged"},
		"Ack.BootEpoch": {"int64", guardPlain, 0, "names the snapshot acknowledged"},
		"Ack.Seq":       {"uint64", guardPlain, 0, "names the snapshot acknowledged"},
		"Ack.Duplicate": {"bool", guardPlain, 0, "a flag"},

		"Error.Code":       {"uint16", guardPlain, 0, "a status code"},
		"Error.Message":    {"string", guardText, MaxTextLen, "why, for a person: logged and shown, never parsed"},
		"Error.RequestID":  {"string", guardID, 0, "names the request refused"},
		"Error.RetryAfter": {"int64", guardPlain, 0, "a wait, bounded by MaxRetryAfter"},

		"Enroll.Token": {"string", guardOpaque, MaxTokenLen, "a secret the collector hashes and compares"},
		"Enroll.CSR":   {"[]uint8", guardOpaque, MaxCSRLen, "DER, parsed by crypto/x509 on the collector"},

		"Enrolled.AgentID":     {"string", guardID, 0, "the identity the agent keeps"},
		"Enrolled.Certificate": {"[]uint8", guardOpaque, MaxCertLen, "DER, parsed by crypto/x509 and used for TLS"},
		"Enrolled.CA":          {"[]uint8", guardOpaque, MaxCertLen, "DER, parsed by crypto/x509 and checked against the CA pin"},
		"Enrolled.RequestKey":  {"[]uint8", guardOpaque, 32, "an Ed25519 public key, used to verify requests"},

		"Renew.CSR":           {"[]uint8", guardOpaque, MaxCSRLen, "DER, parsed by crypto/x509 on the collector"},
		"Renewed.Certificate": {"[]uint8", guardOpaque, MaxCertLen, "DER, parsed by crypto/x509 and used for TLS"},
	}
	for _, prefix := range []string{"Hello.Facts", "Enroll.Facts", "Introduce.Facts"} {
		for k, v := range factsFields(prefix) {
			m[k] = v
		}
	}
	return m
}()

// registered returns the name of every registered message's Go type,
// with its wire type.
func registered(t *testing.T) map[string]Type {
	t.Helper()
	out := map[string]Type{}
	for i := range registry {
		typ := Type(i)
		m := newMessage(typ)
		if m == nil {
			continue
		}
		if m.Type() != typ {
			t.Errorf("registry[%d] makes a %T, whose Type() is %d", i, m, m.Type())
		}
		name := reflect.TypeOf(m).Elem().Name()
		if _, dup := out[name]; dup {
			t.Errorf("%s is registered twice", name)
		}
		out[name] = typ
	}
	return out
}

// walkFields calls visit for every field of rt, recursively into structs
// and lists of structs, with its path ("Snapshot.Probes[].Data").
func walkFields(t *testing.T, prefix string, rt reflect.Type, visit func(path string, ft reflect.Type)) {
	if strings.Count(prefix, ".") > 4 {
		t.Errorf("%s: nested too deep to review", prefix)
		return
	}
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		path := prefix + "." + f.Name
		visit(path, f.Type)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct:
			walkFields(t, path, ft, visit)
		case (ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array) && ft.Elem().Kind() == reflect.Struct:
			walkFields(t, path+"[]", ft.Elem(), visit)
		}
	}
}

// openEnded reports whether values of type ft can hold whatever a peer
// sends: any type, any keys, code.
func openEnded(ft reflect.Type) bool {
	switch ft.Kind() {
	case reflect.Interface, reflect.Map, reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Uintptr, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return openEnded(ft.Elem())
	}
	return false
}

// carriesContent reports whether a value of type ft can spell a command,
// a path, a script or a query: text or bytes.
func carriesContent(ft reflect.Type) bool {
	switch ft.Kind() {
	case reflect.String:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return ft.Elem().Kind() == reflect.Uint8 || carriesContent(ft.Elem())
	}
	return false
}

const review = "review it against the read-only rule (README, \"What the agent will never do\") and list it in readOnlyAllowList (protocol/readonly_test.go) with the guard that bounds it and why it cannot make an agent act"

// TestReadOnlyByConstruction enumerates every message and every field
// against readOnlyAllowList.
func TestReadOnlyByConstruction(t *testing.T) {
	msgs := registered(t)
	if len(msgs) == 0 {
		t.Fatal("no message is registered")
	}
	seen := map[string]bool{}
	for name, typ := range msgs {
		if !toAgent[name] && !fromAgent[name] {
			t.Errorf("message %s (type %d) is new: say which way it travels (toAgent, fromAgent), and %s", name, typ, review)
		}
		walkFields(t, name, reflect.TypeOf(newMessage(typ)).Elem(), func(path string, ft reflect.Type) {
			seen[path] = true
			if openEnded(ft) {
				t.Errorf("%s is a %s: it can hold anything a peer sends, and no guard bounds that; the protocol carries no open-ended data", path, ft)
				return
			}
			a, ok := readOnlyAllowList[path]
			if !ok {
				t.Errorf("%s (%s) is a new field: %s", path, ft, review)
				return
			}
			if ft.String() != a.typ {
				t.Errorf("%s is a %s, reviewed as a %s: %s", path, ft, a.typ, review)
			}
			if a.reason == "" {
				t.Errorf("%s is listed without a reason", path)
			}
			if carriesContent(ft) && (a.guard == guardPlain || a.guard == guardNested) {
				t.Errorf("%s (%s) can spell a command, a path or a query, and is listed as %s: give it a guard Validate enforces", path, ft, a.guard)
			}
			if toAgent[name] && (a.guard == guardJSON || a.guard == guardText && !agentLogsOnly[path]) {
				t.Errorf("%s is free %s in a message an agent reads: only IDs, probe names, numbers and opaque bytes reach an agent", path, a.guard)
			}
		})
	}
	for path := range readOnlyAllowList {
		if !seen[path] {
			t.Errorf("readOnlyAllowList lists %s, which no registered message has: remove it", path)
		}
	}
	for name := range toAgent {
		if _, ok := msgs[name]; !ok {
			t.Errorf("toAgent lists %s, which is not a registered message", name)
		}
	}
	for name := range fromAgent {
		if _, ok := msgs[name]; !ok {
			t.Errorf("fromAgent lists %s, which is not a registered message", name)
		}
	}
	// A request names probes, and a probe name can only be a compiled-in
	// kebab-case name: no path, no argument.
	for _, bad := range []string{"../etc/passwd", "cpu;rm", "cpu --all", "/bin/sh", ""} {
		if ValidProbeName(bad) {
			t.Errorf("probe name %q accepted", bad)
		}
	}
}

// TestReadOnlyGuards checks every guard in readOnlyAllowList: a golden
// message with the field set to what the guard keeps out (a path, a
// command line, one byte past the bound) fails Validate, and the same
// message at the bound passes.
func TestReadOnlyGuards(t *testing.T) {
	badNames := []string{"../../etc/passwd", "/bin/sh", "sh -c id", "cpu;reboot", "$(id)", "cpu --all", "CPU", "a\x00b", ""}
	badIDs := []string{"../../etc/passwd", "/bin/sh", "sh -c id", "id;reboot", "$(id)", "a\x00b", "agënt", strings.Repeat("a", MaxIDLen+1)}
	for path, a := range readOnlyAllowList {
		if a.guard == guardPlain {
			continue
		}
		t.Run(path, func(t *testing.T) {
			fresh := func() (Message, reflect.Value) {
				name := path[:strings.Index(path, ".")]
				m := goldenOf(t, name)
				if err := m.Validate(); err != nil {
					t.Fatalf("golden %s: %v", name, err)
				}
				return m, fieldAt(t, m, path)
			}
			refuses := func(what string, set func(reflect.Value)) {
				t.Helper()
				m, v := fresh()
				set(v)
				if err := m.Validate(); !errors.Is(err, ErrInvalid) {
					t.Errorf("%s set to %s: Validate() = %v, want %v", path, what, err, ErrInvalid)
				}
			}
			accepts := func(what string, set func(reflect.Value)) {
				t.Helper()
				m, v := fresh()
				set(v)
				if err := m.Validate(); err != nil {
					t.Errorf("%s set to %s: Validate() = %v, want nil", path, what, err)
				}
			}
			// one applies set to the field, or to the first entry of a list
			// of names.
			one := func(set func(reflect.Value)) func(reflect.Value) {
				return func(v reflect.Value) {
					if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String {
						if v.Len() == 0 {
							t.Fatalf("the golden message has no %s to change", path)
						}
						v = v.Index(0)
					}
					set(v)
				}
			}
			switch a.guard {
			case guardID:
				for _, bad := range badIDs {
					refuses(quote(bad), one(setText(bad)))
				}
				accepts("an ID of MaxIDLen bytes", one(setText(strings.Repeat("a", MaxIDLen))))
			case guardProbeName, guardTrigger:
				for _, bad := range badNames {
					if bad == "" && a.guard == guardTrigger {
						continue // no trigger: a snapshot the agent was asked for
					}
					refuses(quote(bad), one(setText(bad)))
				}
				accepts("a name of MaxProbeNameLen bytes", one(setText("a"+strings.Repeat("b", MaxProbeNameLen-1))))
			case guardOpaque:
				refuses("max+1 bytes", setText(strings.Repeat("\x30", a.max+1)))
				accepts("max bytes", setText(strings.Repeat("\x30", a.max)))
			case guardText:
				refuses("max+1 bytes", setText(strings.Repeat("x", a.max+1)))
				refuses("invalid UTF-8", setText("a\xffb"))
				accepts("max bytes", setText(strings.Repeat("x", a.max)))
			case guardJSON:
				refuses("a command line", setText("rm -rf /"))
				refuses("a JSON document cut short", setText(`{"a":`))
				refuses("max+1 bytes", setText(`"`+strings.Repeat("x", a.max-1)+`"`))
				accepts("max bytes", setText(`"`+strings.Repeat("x", a.max-2)+`"`))
			case guardProcessName:
				for _, bad := range []string{"../../etc/passwd", "/bin/sh", `C:\Windows\System32\cmd.exe`, "a\x00b", "java\n", "\x1b[2J", "a\u202eb", "a\xffb", "", strings.Repeat("j", MaxProcessNameLen+1)} {
					refuses(quote(bad), one(setText(bad)))
				}
				for _, good := range []string{strings.Repeat("j", MaxProcessNameLen), "tmux: server", "Web Content", "chrome.exe", "süß"} {
					accepts(quote(good), one(setText(good)))
				}
			case guardNested:
			default:
				t.Fatalf("no check for guard %s", a.guard)
			}
			if a.max > 0 && a.guard != guardOpaque && a.guard != guardText && a.guard != guardJSON {
				refuses("max+1 entries", setLen(t, a.max+1))
				accepts("max entries", setLen(t, a.max))
			}
		})
	}
}

func quote(s string) string { return "\"" + strings.ToValidUTF8(s, "?") + "\"" }

// goldenOf returns a fresh golden message of the named Go type: the last
// one listed, which for a snapshot is the one whose first probe carries
// every field.
func goldenOf(t *testing.T, name string) Message {
	t.Helper()
	var last Message
	for _, g := range goldenMessages() {
		if reflect.TypeOf(g.msg).Elem().Name() == name {
			last = g.msg
		}
	}
	if last == nil {
		t.Fatalf("no golden %s", name)
	}
	return last
}

// fieldAt returns the field of m at path, the first entry of each list
// marked [] on the way.
func fieldAt(t *testing.T, m Message, path string) reflect.Value {
	t.Helper()
	v := reflect.ValueOf(m).Elem()
	for _, seg := range strings.Split(path, ".")[1:] {
		v = v.FieldByName(strings.TrimSuffix(seg, "[]"))
		if strings.HasSuffix(seg, "[]") {
			if v.Len() == 0 {
				t.Fatalf("the golden message has nothing at %s", path)
			}
			v = v.Index(0)
		}
	}
	return v
}

// setText sets a string or byte slice field to s.
func setText(s string) func(reflect.Value) {
	return func(v reflect.Value) {
		if v.Kind() == reflect.String {
			v.SetString(s)
		} else {
			v.SetBytes([]byte(s))
		}
	}
}

// setLen sets a list to n distinct valid entries, made from its first.
func setLen(t *testing.T, n int) func(reflect.Value) {
	return func(v reflect.Value) {
		if v.Len() == 0 {
			t.Fatal("the golden list is empty")
		}
		list := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			e := list.Index(i)
			e.Set(v.Index(0))
			switch {
			case e.Kind() == reflect.String:
				e.SetString(probeNameN(i))
			case e.Kind() == reflect.Struct && e.FieldByName("Name").IsValid():
				e.FieldByName("Name").SetString(probeNameN(i))
			}
		}
		v.Set(list)
	}
}

// TestEveryMessageRegistered reads the package's source: every type with a
// Type() Type method, and every Type constant, is a registered message, so
// none escapes TestReadOnlyByConstruction by not being registered.
func TestEveryMessageRegistered(t *testing.T) {
	msgs := registered(t)
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	methods, consts := 0, 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil || d.Name.Name != "Type" || d.Type.Results == nil || len(d.Type.Results.List) != 1 {
					continue
				}
				if res, ok := d.Type.Results.List[0].Type.(*ast.Ident); !ok || res.Name != "Type" {
					continue
				}
				recv := d.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				methods++
				if id, ok := recv.(*ast.Ident); !ok {
					t.Errorf("%s: a Type method on %T", fset.Position(d.Pos()), recv)
				} else if _, ok := msgs[id.Name]; !ok {
					t.Errorf("%s: %s is a message (it has a Type method) that is not in the registry (messages.go): register it, and %s", fset.Position(d.Pos()), id.Name, review)
				}
			case *ast.GenDecl:
				if d.Tok != token.CONST {
					continue
				}
				for _, s := range d.Specs {
					vs := s.(*ast.ValueSpec)
					if typ, ok := vs.Type.(*ast.Ident); !ok || typ.Name != "Type" {
						continue
					}
					for _, n := range vs.Names {
						consts++
						if _, ok := msgs[strings.TrimPrefix(n.Name, "Type")]; !ok {
							t.Errorf("%s: message type %s has no registered message %s: register it, and %s", fset.Position(n.Pos()), n.Name, strings.TrimPrefix(n.Name, "Type"), review)
						}
					}
				}
			}
		}
	}
	if methods != len(msgs) || consts != len(msgs) {
		t.Errorf("the source has %d Type methods and %d Type constants, the registry %d messages", methods, consts, len(msgs))
	}
}
