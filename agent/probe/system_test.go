//go:build linux

package probe_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/shirou/gopsutil/v3/host"

	"github.com/sondehq/sonde/agent/probe"
)

func TestSystem(t *testing.T) {
	for _, dir := range cases(t, "system") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			// users.json stands for utmp, whose layout depends on the
			// architecture; without it the host has no utmp at all.
			users := func(context.Context) ([]host.UserStat, error) {
				b, err := os.ReadFile(filepath.Join(dir, "users.json"))
				if err != nil {
					return nil, err
				}
				var us []host.UserStat
				return us, json.Unmarshal(b, &us)
			}
			goldenSequence(t, func() probe.Probe { return probe.NewTestSystem(users) }, dir)
		})
	}
}

// TestSystemUtmp checks that the registered system probe reads utmp under
// the host root it is given. The record layout written here is glibc's on
// amd64.
func TestSystemUtmp(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("utmp layout written for linux/amd64")
	}
	root := t.TempDir()
	for _, d := range []string{"proc/sys/kernel", "var/run", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("proc/uptime", "100.00 150.00\n")
	write("proc/stat", "btime 1773302400\n")
	var utmp []byte
	for _, r := range []struct {
		typ              int16
		line, user, host string
		sec              int32
	}{
		{2, "~", "reboot", "6.1.0", 1773302400}, // BOOT_TIME
		{7, "pts/3", "alice", "192.0.2.10", 1773302500},
		{8, "pts/1", "", "", 1773302450}, // DEAD_PROCESS
	} {
		rec := make([]byte, 384)
		binary.LittleEndian.PutUint16(rec[0:], uint16(r.typ))
		copy(rec[8:40], r.line)
		copy(rec[44:76], r.user)
		copy(rec[76:332], r.host)
		binary.LittleEndian.PutUint32(rec[340:], uint32(r.sec))
		utmp = append(utmp, rec...)
	}
	write("var/run/utmp", string(utmp))

	p, ok := probe.New("system")
	if !ok {
		t.Fatal("system probe not registered")
	}
	v, err := p.Collect(probe.WithRoot(context.Background(), root), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*probe.SystemResult)
	got := fmt.Sprint(r.Users)
	if want := "[{alice pts/3 192.0.2.10 1773302500}]"; got != want {
		t.Errorf("users = %s, want %s (errors %v)", got, want, r.Errors)
	}
}
