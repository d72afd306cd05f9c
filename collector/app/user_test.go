package app

import (
	"context"
	"errors"
	"io"
	"os/user"
	"path/filepath"
	"testing"

	"github.com/sondehq/sonde/collector/store/sqlite"
)

func TestUserName(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	root := &user.User{Username: "root", Uid: "0"}
	noUser := errors.New("user: unknown userid 1234")
	for _, c := range []struct {
		name string
		u    *user.User
		err  error
		env  func(string) string
		uid  int
		want string
	}{
		{"root, no sudo", root, nil, env("USER", "root"), 0, "root"},
		{"sudo to root", root, nil, env("USER", "root", "SUDO_USER", "alice"), 0, "alice (sudo as root)"},
		{"sudo -u collector", &user.User{Username: "sonde"}, nil, env("SUDO_USER", "alice"), 998, "alice (sudo as sonde)"},
		{"sudo as oneself", &user.User{Username: "alice"}, nil, env("SUDO_USER", "alice"), 1000, "alice"},
		{"not in passwd, USER set", nil, noUser, env("USER", "bob"), 1234, "bob"},
		{"not in passwd, nothing set", nil, noUser, env(), 1234, "1234"},
		{"not in passwd, under sudo", nil, noUser, env("SUDO_USER", "alice"), 0, "alice (sudo as 0)"},
	} {
		if got := userName(c.u, c.err, c.env, c.uid); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestLocalCommandActor: a local admin command under sudo is on the
// record as the user who ran sudo.
func TestLocalCommandActor(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Skip("no user name to compare with:", err)
	}
	t.Setenv("SUDO_USER", "alice-"+me.Username) // never the same name as me
	dir := t.TempDir()
	ctx := context.Background()
	if err := run(ctx, []string{"apikey", "create", "bob", "--role", "l2", "--data", dir}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, _, err := st.AuditLog(ctx, 10)
	if err != nil || len(entries) != 1 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	if want := "local:alice-" + me.Username + " (sudo as " + me.Username + ")"; entries[0].Actor != want {
		t.Fatalf("actor %q, want %q", entries[0].Actor, want)
	}
}
