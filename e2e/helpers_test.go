package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// helperRole, set in a copy of the test binary's environment, makes it a
// program of the machine under test instead of a test run: "spin" burns
// one core, "listen" serves a TCP port (see runHelper).
const helperRole = "SONDE_E2E_HELPER"

// runHelper runs the test binary as a helper program, if it was started as
// one, and never returns then.
func runHelper() {
	switch os.Getenv(helperRole) {
	case "":
		return
	case "spin":
		// Two threads, so that it stays the machine's main consumer while
		// the agent and the collector work beside it.
		go spin()
		spin()
	case "listen":
		ln, err := net.Listen("tcp", os.Getenv("SONDE_E2E_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(1)
			}
			c.Close()
		}
	}
	os.Exit(2)
}

// spin is a runaway loop.
func spin() {
	//lint:ignore SA5002 the helper is a runaway loop on purpose
	for {
	}
}

// startHelper runs a copy of the test binary named name, in role, with
// args for its command line; it is killed when the test ends.
func startHelper(t *testing.T, name, role string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, self); err != nil {
		t.Fatal(err)
	}
	out.Close()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), append(env, helperRole+"="+role)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}
