package probe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzLogsLimits are small, so that fuzzing reaches every bound.
var fuzzLogsLimits = logsLimits{ToolBytes: 1 << 20, KmsgBytes: 1 << 20, Files: 8, Groups: 5, Events: 2, Crashes: 2, Message: 64}

// fuzzLogsRun is a run at the fixtures' present, with the fuzzing limits.
func fuzzLogsRun() *logsRun {
	return newLogsRun(&Env{}, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC), fuzzLogsLimits)
}

// addLogsSeeds seeds f with the fixtures' recordings of a file name.
func addLogsSeeds(f *testing.F, name string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "logs", "*", name))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkLogsResult fails when a result breaks a bound or holds invalid
// UTF-8: whatever the input, the output stays small and sendable.
func checkLogsResult(t *testing.T, r *logsRun) {
	t.Helper()
	res := r.result()
	lim := r.limits
	k := res.Kernel
	if len(res.Groups) > lim.Groups || len(res.Crashes) > lim.Crashes || res.CrashCount < len(res.Crashes) ||
		len(k.OOMKills) > lim.Events || len(k.IOErrors) > lim.Events || len(k.Segfaults) > lim.Events || len(k.GPUResets) > lim.Events ||
		k.Counts.OOMKills < len(k.OOMKills) || k.Counts.IOErrors < len(k.IOErrors) || k.Counts.Segfaults < len(k.Segfaults) || k.Counts.GPUResets < len(k.GPUResets) {
		t.Fatalf("a bound is broken: %+v", res)
	}
	var texts []string
	for _, g := range res.Groups {
		if len(g.Example) > lim.Message || len(g.Signature) > maxSignature+80 || len(g.Source) > maxName || g.Count < 1 {
			t.Fatalf("group out of bounds: %+v", g)
		}
		texts = append(texts, g.Log, g.Source, g.Signature, g.Example, g.Level, g.FirstSeen, g.LastSeen)
	}
	for _, list := range [][]KernelEvent{k.OOMKills, k.IOErrors, k.Segfaults, k.GPUResets} {
		for _, e := range list {
			texts = append(texts, e.Process, e.Device, e.Driver, e.Detail, e.Time)
		}
	}
	for _, c := range res.Crashes {
		texts = append(texts, c.Program, c.Executable, c.Signal, c.Package, c.File, c.Kind, c.Time)
	}
	for _, s := range texts {
		if !utf8.ValidString(s) || len(s) > 512 {
			t.Fatalf("text of %d bytes, valid UTF-8 %v: %q", len(s), utf8.ValidString(s), s)
		}
	}
	if b, err := json.Marshal(res); err != nil || len(b) > 64<<10 {
		t.Fatalf("result of %d bytes: %v", len(b), err)
	}
}

func FuzzLogsKmsg(f *testing.F) {
	addLogsSeeds(f, filepath.Join("root", "dev", "kmsg"))
	f.Add([]byte("6,1,100,-;x\n SUBSYSTEM=pci\n3,2,200,-;y"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fuzzLogsRun()
		st := &LogSource{Name: "kmsg"}
		boot := r.now.Add(-20 * time.Hour)
		var whole []kmsgRecord
		sc := kmsgScanner{fn: func(rec kmsgRecord) { whole = append(whole, rec); r.kmsgRecord(st, boot, rec) }}
		sc.feed(data)
		sc.end()
		// Fed in pieces, as reads of a file return it, the same records.
		n := 0
		pieces := kmsgScanner{fn: func(rec kmsgRecord) {
			if n >= len(whole) || whole[n] != rec {
				t.Fatalf("record %d differs when fed in pieces: %+v", n, rec)
			}
			n++
		}}
		for b, size := data, 1+len(data)%13; len(b) > 0; b = b[min(size, len(b)):] {
			pieces.feed(b[:min(size, len(b))])
		}
		pieces.end()
		if n != len(whole) || st.EntriesKept > st.EntriesRead {
			t.Fatalf("%d records in pieces, %d whole; %+v", n, len(whole), st)
		}
		checkLogsResult(t, r)
	})
}

func FuzzLogsJournal(f *testing.F) {
	addLogsSeeds(f, "journalctl.json")
	f.Add([]byte(`{"__REALTIME_TIMESTAMP":"1773140000000000","PRIORITY":"3","MESSAGE":[104,105],"COREDUMP_COMM":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fuzzLogsRun()
		st := &LogSource{Name: "journal"}
		consumeJournal(r, st, data)
		checkLogsResult(t, r)
	})
}

func FuzzLogsEventLog(f *testing.F) {
	addLogsSeeds(f, "wevtutil-*.xml")
	f.Add([]byte("\xff\xfe<\x00E\x00v\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fuzzLogsRun()
		st := &LogSource{Name: "eventlog-system"}
		consumeEventLog(r, st, data)
		checkLogsResult(t, r)
	})
}

func FuzzLogsUnified(f *testing.F) {
	addLogsSeeds(f, "log.ndjson")
	f.Add([]byte(`{"timestamp":"2026-03-10 11:00:00.000001+0100","messageType":"Fault","eventMessage":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fuzzLogsRun()
		st := &LogSource{Name: "unified-log"}
		consumeUnified(r, st, data)
		checkLogsResult(t, r)
	})
}
