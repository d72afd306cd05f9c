package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LocalCollector is a sonde-collector the bench runs from the tree's
// binary, on loopback, with its data in Data and its output in Data's
// collector.log.
type LocalCollector struct {
	Bin  string // the sonde-collector binary
	Data string
	QUIC string // 127.0.0.1:port
	HTTP string // 127.0.0.1:port
	Args []string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// freePort returns a loopback port free for UDP and TCP alike right now.
func freePort() (int, error) {
	for range 20 {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		pc.Close()
		if err == nil {
			ln.Close()
			return port, nil
		}
	}
	return 0, errors.New("finding a free port: none free for both UDP and TCP after 20 tries")
}

// Start runs `sonde-collector serve` and waits until /readyz answers.
func (c *LocalCollector) Start(ctx context.Context) error {
	if c.QUIC == "" || c.HTTP == "" {
		q, err := freePort()
		if err != nil {
			return err
		}
		h, err := freePort()
		if err != nil {
			return err
		}
		c.QUIC, c.HTTP = fmt.Sprintf("127.0.0.1:%d", q), fmt.Sprintf("127.0.0.1:%d", h)
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return fmt.Errorf("starting the collector: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(c.Data, "collector.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("starting the collector: %w", err)
	}
	defer logf.Close()
	args := append([]string{"serve", "--data", c.Data, "--quic", c.QUIC, "--http", c.HTTP}, c.Args...)
	c.cmd = exec.Command(c.Bin, args...)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("starting the collector: %w", err)
	}
	c.done = make(chan struct{})
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-c.done:
			return fmt.Errorf("the collector exited at start (%v): see %s", c.err, logf.Name())
		case <-ctx.Done():
			c.Stop()
			return fmt.Errorf("starting the collector: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if ready(ctx, "http://"+c.HTTP+"/readyz") {
			return nil
		}
		if time.Now().After(deadline) {
			c.Stop()
			return fmt.Errorf("the collector was not ready within a minute: see %s", logf.Name())
		}
	}
}

func ready(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// PID is the running collector's process ID.
func (c *LocalCollector) PID() int { return c.cmd.Process.Pid }

// Stop sends SIGTERM and waits for the collector to exit (SIGKILL after
// 30 s).
func (c *LocalCollector) Stop() error {
	if c.cmd == nil || c.done == nil {
		return nil
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
		return errors.New("the collector did not stop within 30 s of SIGTERM: killed")
	}
	var exit *exec.ExitError
	if c.err != nil && !errors.As(c.err, &exit) {
		return fmt.Errorf("stopping the collector: %w", c.err)
	}
	return nil
}

// Restart stops the collector and starts it again on the same addresses
// and data, and returns its new PID.
func (c *LocalCollector) Restart(ctx context.Context) (int, error) {
	if err := c.Stop(); err != nil {
		return 0, err
	}
	if err := c.Start(ctx); err != nil {
		return 0, err
	}
	return c.PID(), nil
}

// Token makes an enrollment token for uses agents with the collector's own
// command, and returns it with the CA pin.
func (c *LocalCollector) Token(ctx context.Context, uses int) (token, pin string, err error) {
	out, err := c.command(ctx, "token", "create", "--data", c.Data, "--uses", strconv.Itoa(uses), "--ttl", "1h", "--json")
	if err != nil {
		return "", "", err
	}
	var t struct {
		Token string `json:"token"`
		Pin   string `json:"ca_pin"`
	}
	if err := json.Unmarshal(out, &t); err != nil || t.Token == "" || t.Pin == "" {
		return "", "", fmt.Errorf("token create printed %q: want JSON with token and ca_pin", out)
	}
	return t.Token, t.Pin, nil
}

// APIKey makes an API key with role l2.
func (c *LocalCollector) APIKey(ctx context.Context) (string, error) {
	out, err := c.command(ctx, "apikey", "create", "sonde-loadgen", "--role", "l2", "--data", c.Data, "--json")
	if err != nil {
		return "", err
	}
	var k struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(out, &k); err != nil || k.Key == "" {
		return "", fmt.Errorf("apikey create printed %q: want JSON with key", out)
	}
	return k.Key, nil
}

func (c *LocalCollector) command(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("sonde-collector %s: %w: %s", strings.Join(args[:2], " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
