package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// ErrNotAvailable says that this machine has no such data: no battery, no
// journal, no Wi-Fi. A probe wraps it with what is missing; the snapshot
// shows the probe's error as "not available here: ...".
var ErrNotAvailable = errors.New("not available here")

// notAvailable returns ErrNotAvailable explained by what is missing.
func notAvailable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotAvailable, fmt.Sprintf(format, args...))
}

// runTool runs one of the platform's own fixed tools (journalctl,
// smartctl, macOS log) for an on-demand probe: no shell, arguments fixed
// by the calling probe (never taken from a request), the probe's deadline,
// a C locale, and at most limit bytes of output, after which the tool is
// stopped and truncated is true. A tool that is not installed gives
// ErrNotAvailable.
func runTool(ctx context.Context, limit int, name string, args ...string) (out []byte, truncated bool, err error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, false, notAvailable("%s is not installed", name)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if runtime.GOOS == "windows" {
		// Windows tools need to know where Windows is.
		cmd.Env = []string{"SystemRoot=" + os.Getenv("SystemRoot"), "windir=" + os.Getenv("windir")}
	}
	stdout := &capped{limit: limit, full: cancel}
	stderr := &capped{limit: 512}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	switch {
	case stdout.over:
		return stdout.buf.Bytes(), true, nil
	case ctx.Err() != nil:
		return nil, false, fmt.Errorf("%s: %w", name, context.Cause(ctx))
	case err != nil:
		msg := strings.TrimSpace(stderr.buf.String())
		if msg == "" {
			return stdout.buf.Bytes(), false, fmt.Errorf("%s: %w", name, err)
		}
		return stdout.buf.Bytes(), false, fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return stdout.buf.Bytes(), false, nil
}

// capped keeps the first limit bytes written to it; past them it calls
// full (which stops the tool) and drops the rest.
type capped struct {
	buf   bytes.Buffer
	limit int
	over  bool
	full  func()
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.limit - c.buf.Len(); len(p) > room {
		c.buf.Write(p[:max(room, 0)])
		if !c.over && c.full != nil {
			c.full()
		}
		c.over = true
		return len(p), nil
	}
	c.buf.Write(p) // a bytes.Buffer's Write never fails
	return len(p), nil
}
