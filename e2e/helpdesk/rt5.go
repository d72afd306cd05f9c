//go:build helpdesk

// Package helpdesk runs Sonde's helpdesk connectors against real helpdesks
// from Debian's packages, each started on loopback in a temporary folder
// of its own (`make test-helpdesk`, as root; scripts/deps.sh helpdesk
// installs them). Nothing here installs anything.
package helpdesk

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rtShare is where Debian's request-tracker5 keeps RT.
const rtShare = "/usr/share/request-tracker5"

// RT is a Request Tracker 5 (Debian's request-tracker5, SQLite,
// rt5-standalone) serving on loopback.
type RT struct {
	URL          string // the web address: http://127.0.0.1:PORT
	Token        string // an auth token of root
	RootPassword string // root's password, for Basic auth

	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the server has exited
	http *http.Client
}

// StartRT makes an RT database in a temporary folder, starts RT's own
// server on a free loopback port, waits until REST2 answers, and makes
// root an auth token. The test's cleanup stops the server (SIGTERM stops
// it and its workers) and removes the folder.
func StartRT(t *testing.T) *RT {
	t.Helper()
	if _, err := os.Stat(rtShare + "/libexec/rt-server"); err != nil {
		t.Fatalf("Request Tracker 5 is not installed (%v): run scripts/deps.sh helpdesk as root, or make test-helpdesk", err)
	}
	dir, err := os.MkdirTemp("", "sonde-rt5-")
	if err != nil {
		t.Fatal(err)
	}
	rt := &RT{dir: dir, RootPassword: rand.Text()[:16], http: &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Minute}}
	t.Cleanup(func() {
		rt.stop(t)
		rt.http.CloseIdleConnections()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing RT's folder: %v", err)
		}
	})
	began := time.Now()
	if err := rt.start(); err != nil {
		t.Fatalf("starting Request Tracker 5: %v", err)
	}
	t.Logf("Request Tracker 5 serves on %s (database, server and token in %v)", rt.URL, time.Since(began).Round(time.Millisecond))
	return rt
}

func (rt *RT) start() error {
	port, err := rtPort()
	if err != nil {
		return err
	}
	rt.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	for _, d := range []string{"etc.d", "var", "mason", "sessions"} {
		if err := os.Mkdir(filepath.Join(rt.dir, d), 0o700); err != nil {
			return fmt.Errorf("making RT's folders: %w", err)
		}
	}
	// The SiteConfig folder of the test's own (empty) keeps Debian's
	// snippets in /etc/request-tracker5 from overriding this file; the
	// folders RT writes are set as variables (Set() of them has no effect).
	config := fmt.Sprintf(`Set($DatabaseType, 'SQLite');
Set($DatabaseName, '%[1]s/rt.db');
Set($WebDomain, '127.0.0.1');
Set($WebPort, %[2]d);
Set($WebBaseURL, '%[3]s');
Set($MailCommand, 'mbox');
Set($LogToSTDERR, 'warning');
$RT::VarPath = '%[1]s/var';
$RT::MasonDataDir = '%[1]s/mason';
$RT::MasonSessionDir = '%[1]s/sessions';
1;
`, rt.dir, port, rt.URL)
	if err := os.WriteFile(filepath.Join(rt.dir, "RT_SiteConfig.pm"), []byte(config), 0o600); err != nil {
		return fmt.Errorf("writing RT's config: %w", err)
	}
	pwFile := filepath.Join(rt.dir, "root-password")
	if err := os.WriteFile(pwFile, []byte(rt.RootPassword+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing root's password: %w", err)
	}
	if _, err := rt.run(time.Minute, "rt-setup-database-5", "--action", "init", "--skip-create", "--root-password-file", pwFile); err != nil {
		return fmt.Errorf("making RT's database: %w", err)
	}
	if err := rt.serve(port); err != nil {
		return err
	}
	token, err := rt.run(time.Minute, "perl", "-I"+rtShare+"/lib", "-e", `use RT -init;
my $u = RT::User->new(RT->SystemUser); $u->Load("root");
my ($id, $m, $t) = RT::AuthToken->new(RT::CurrentUser->new($u))->Create(Owner => $u->Id, Description => "sonde e2e");
$id or die "$m\n"; print $t;`)
	if err != nil {
		return fmt.Errorf("making root's auth token: %w", err)
	}
	rt.Token = strings.TrimSpace(token)
	return nil
}

// run runs one of RT's tools with the test's config, within limit.
func (rt *RT) run(limit time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = rt.env()
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", name, err, tail(errs.String(), 20))
	}
	return out.String(), nil
}

func (rt *RT) env() []string {
	return append(os.Environ(), "RT_SITE_CONFIG="+filepath.Join(rt.dir, "RT_SiteConfig.pm"), "RT_SITE_CONFIG_DIR="+filepath.Join(rt.dir, "etc.d"))
}

// serve starts rt-server (Starlet, two workers) and waits until REST2
// answers: 401 to a request without credentials.
func (rt *RT) serve(port int) error {
	logFile, err := os.Create(rt.logPath())
	if err != nil {
		return fmt.Errorf("making RT's log: %w", err)
	}
	defer logFile.Close()
	rt.cmd = exec.Command(rtShare+"/libexec/rt-server", "--server", "Starlet", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--max-workers", "2")
	rt.cmd.Env = rt.env()
	rt.cmd.Stdout, rt.cmd.Stderr = logFile, logFile
	rt.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := rt.cmd.Start(); err != nil {
		return fmt.Errorf("starting rt-server: %w", err)
	}
	rt.done = make(chan struct{})
	go func() { _ = rt.cmd.Wait(); close(rt.done) }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		code, err := rt.status(rt.URL + "/REST/2.0/rt")
		if code == http.StatusUnauthorized {
			return nil
		}
		select {
		case <-rt.done:
			return fmt.Errorf("rt-server exited (%v); its log ends:\n%s", rt.cmd.ProcessState, rt.logTail())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rt-server did not answer on %s within 90 s (last: HTTP %d, %v); its log ends:\n%s", rt.URL, code, err, rt.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (rt *RT) status(u string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", u, err)
	}
	resp, err := rt.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// stop sends SIGTERM, which stops rt-server and its workers; past 20 s it
// kills the process group. It logs the server's log tail when the test
// failed.
func (rt *RT) stop(t *testing.T) {
	if rt.cmd == nil || rt.cmd.Process == nil {
		return
	}
	if t.Failed() && rt.Token != "" { // a failed start has shown it already
		t.Logf("RT's log ends:\n%s", rt.logTail())
	}
	_ = rt.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-rt.done:
	case <-time.After(20 * time.Second):
		t.Errorf("rt-server did not stop within 20 s of SIGTERM; killing it")
		_ = syscall.Kill(-rt.cmd.Process.Pid, syscall.SIGKILL)
		<-rt.done
	}
}

func (rt *RT) logPath() string { return filepath.Join(rt.dir, "rt-server.log") }

func (rt *RT) logTail() string {
	b, err := os.ReadFile(rt.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tail(string(b), 30)
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// rtPort is a free loopback TCP port: listened on, closed, handed out.
func rtPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RTAttachment is a file on a ticket, as RT keeps it.
type RTAttachment struct {
	ID, Filename, ContentType string
	Size                      int64
	SHA256                    string // hex, of the bytes RT gives back
}

// Attachments reads the files on ticket (the MIME parts that have a file
// name) and hashes their bytes, fetched from GET /attachment/N (base64).
func (rt *RT) Attachments(ctx context.Context, ticket string) ([]RTAttachment, error) {
	var files []RTAttachment
	q := url.Values{"fields": {"Filename,ContentType"}, "per_page": {"100"}}
	for page := 1; ; page++ {
		q.Set("page", strconv.Itoa(page))
		var list struct {
			Items []struct {
				ID       string `json:"id"`
				Filename string `json:"Filename"`
				Type     string `json:"ContentType"`
			} `json:"items"`
			NextPage string `json:"next_page"`
		}
		if err := rt.REST(ctx, http.MethodGet, "/ticket/"+ticket+"/attachments?"+q.Encode(), nil, &list); err != nil {
			return nil, err
		}
		for _, it := range list.Items {
			if it.Filename == "" {
				continue
			}
			var a struct {
				Content string `json:"Content"`
			}
			if err := rt.REST(ctx, http.MethodGet, "/attachment/"+it.ID, nil, &a); err != nil {
				return nil, err
			}
			b, err := base64.StdEncoding.DecodeString(a.Content)
			if err != nil {
				return nil, fmt.Errorf("attachment %s: %w", it.ID, err)
			}
			sum := sha256.Sum256(b)
			files = append(files, RTAttachment{ID: it.ID, Filename: it.Filename, ContentType: it.Type, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
		}
		if list.NextPage == "" || page >= 50 {
			return files, nil
		}
	}
}

// SetTicket changes ticket's fields (Status, Owner...) with PUT /ticket/N.
func (rt *RT) SetTicket(ctx context.Context, ticket string, fields map[string]string) error {
	var msgs []string // what RT says it changed; the tests read the ticket back
	return rt.REST(ctx, http.MethodPut, "/ticket/"+ticket, fields, &msgs)
}

// REST sends a REST2 request as root (token auth), in (when not nil) as
// JSON, and decodes the JSON answer into out (when not nil).
func (rt *RT) REST(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, rt.URL+"/REST/2.0"+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "token "+rt.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := rt.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}
