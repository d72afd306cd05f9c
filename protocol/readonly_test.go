package protocol

import (
	"reflect"
	"regexp"
	"testing"
)

// TestReadOnlyByConstruction guards the promise that a collector, even a
// compromised one, can only read diagnostics: the wire has exactly these
// messages, and no field of any of them could carry a command, a path to
// write, a script or a query. Adding a message or a field of that kind
// means changing this test, on purpose, in review.
func TestReadOnlyByConstruction(t *testing.T) {
	known := map[Type]string{
		TypeHello: "Hello", TypeWelcome: "Welcome", TypeSnapshotRequest: "SnapshotRequest", TypeSnapshot: "Snapshot",
		TypeAck: "Ack", TypeError: "Error", TypeEnroll: "Enroll", TypeEnrolled: "Enrolled",
		TypeRenew: "Renew", TypeRenewed: "Renewed",
	}
	for t8 := 0; t8 < 256; t8++ {
		m := newMessage(Type(t8))
		name, ok := known[Type(t8)]
		switch {
		case m == nil && ok:
			t.Errorf("type %d (%s) has no message", t8, name)
		case m != nil && !ok:
			t.Errorf("type %d is a message this test does not know: %T", t8, m)
		case m != nil && reflect.TypeOf(m).Elem().Name() != name:
			t.Errorf("type %d is %T, want %s", t8, m, name)
		}
	}
	forbidden := regexp.MustCompile(`(?i)command|cmd|exec|run|script|shell|arg|env|path|file|write|upload|install|query|sql|expr|eval|url|binary|program`)
	seen := map[reflect.Type]bool{}
	var walk func(where string, rt reflect.Type)
	walk = func(where string, rt reflect.Type) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || seen[rt] {
			return
		}
		seen[rt] = true
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if forbidden.MatchString(f.Name) {
				t.Errorf("%s.%s: a field named like this could make an agent act, not just report", where, f.Name)
			}
			walk(where+"."+f.Name, f.Type)
		}
	}
	for t8 := range known {
		m := newMessage(t8)
		walk(reflect.TypeOf(m).Elem().Name(), reflect.TypeOf(m))
	}
	// A request names probes, and a probe name can only be a compiled-in
	// kebab-case name: no path, no argument.
	for _, bad := range []string{"../etc/passwd", "cpu;rm", "cpu --all", "/bin/sh", ""} {
		if ValidProbeName(bad) {
			t.Errorf("probe name %q accepted", bad)
		}
	}
}
