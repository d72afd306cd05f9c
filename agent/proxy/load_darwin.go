package proxy

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"time"
)

// Bounds of the scutil run.
const (
	scutilTimeout = 5 * time.Second
	maxScutil     = 64 << 10
)

// LoadSystem reads the operating system's proxy settings (see System).
// Call it at start and when the network changes, not for every dial. It
// never fails: what it could not read is in System.Problems.
//
// macOS keeps the effective settings only in the SystemConfiguration
// framework, which Go without cgo reaches through its own tool: this runs
// /usr/sbin/scutil --proxy (fixed arguments, no shell, a deadline and a
// byte limit).
func LoadSystem(ctx context.Context) *System {
	ctx, cancel := context.WithTimeout(ctx, scutilTimeout)
	defer cancel()
	var out capped
	cmd := exec.CommandContext(ctx, "/usr/sbin/scutil", "--proxy")
	cmd.Stdout = &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("running scutil: %w", err)
	}
	return darwinSystem(out.Bytes(), err)
}

// capped keeps the first maxScutil bytes written to it.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxScutil - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
