//go:build helpdesk

// Package helpdesk runs the helpdesk connectors against real helpdesks from
// Debian's packages (installed by scripts/deps.sh helpdesk), each started
// on loopback from a temporary folder of the test's own. It needs root.
package helpdesk

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// redmineDir is where Debian's redmine package puts the application; its
// instances are /var/lib/redmine/NAME (config, files, log, tmp).
const redmineDir = "/usr/share/redmine"

// RedmineMaxAttachment is the "Maximum attachment size" the harness sets,
// in bytes, so that a test can meet Redmine's own limit.
const RedmineMaxAttachment = 8 << 20

// Redmine is a Redmine 5 serving on loopback for one test.
type Redmine struct {
	URL     string // http://127.0.0.1:PORT
	APIKey  string // the admin's
	Project string // identifier of the project made for the test
	// Timings are how long each step of the start took, in order.
	Timings []Timing

	dir, instance string
	client        *http.Client
}

// Timing is one step of a start.
type Timing struct {
	Step string
	Took time.Duration
}

// StartRedmine makes a Redmine instance in a temporary folder (its SQLite
// database, files and logs), migrates it, loads the default data (trackers,
// statuses, roles), turns the REST API on, starts its server and makes a
// project. The test's cleanup stops the server and removes the instance.
func StartRedmine(t *testing.T) *Redmine {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("a Redmine instance is made under /var/lib/redmine: run as root (make test-helpdesk)")
	}
	if _, err := os.Stat(filepath.Join(redmineDir, "Gemfile")); err != nil {
		t.Fatal("Redmine is not installed: run scripts/deps.sh helpdesk")
	}
	r := &Redmine{dir: t.TempDir(), instance: "sonde-test-" + strings.ToLower(rand.Text()[:10]), client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{}}}
	inst := filepath.Join(r.dir, "inst")
	for _, d := range []string{"config", "tmp/cache", "tmp/pids", "log", "files", "public"} {
		if err := os.MkdirAll(filepath.Join(inst, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	db := "production:\n  adapter: sqlite3\n  database: " + filepath.Join(r.dir, "redmine.sqlite3") + "\n  pool: 5\n  timeout: 5000\n"
	writeFile(t, filepath.Join(inst, "config", "database.yml"), db)
	writeFile(t, filepath.Join(inst, "config", "secret_key.txt"), rand.Text()+rand.Text()+"\n")
	link := filepath.Join("/var/lib/redmine", r.instance) // where REDMINE_INSTANCE looks
	if err := os.Symlink(inst, link); err != nil {
		t.Fatalf("making the instance: %v", err)
	}
	t.Cleanup(func() { os.Remove(link) })

	r.step(t, "make the database", "bundle", "exec", "rake", "db:migrate")
	// One boot of Rails for the rest (rake redmine:load_default_data in the
	// same process as db:migrate loads nothing).
	out := r.step(t, "load the default data, turn on the REST API, read the admin's key", "bundle", "exec", "rails", "runner", `
		Redmine::DefaultData::Loader.load("en")
		Setting.rest_api_enabled = "1"
		Setting.attachment_max_size = "`+fmt.Sprint(RedmineMaxAttachment>>10)+`"
		Setting.notified_events = []
		u = User.find_by_login("admin")
		u.must_change_passwd = false
		u.save!
		puts "api-key=" + u.api_key`)
	for line := range strings.Lines(out) {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "api-key="); ok {
			r.APIKey = k
		}
	}
	if r.APIKey == "" {
		t.Fatalf("no API key in what rails runner printed:\n%s", out)
	}

	start := time.Now()
	addr := harness.FreeAddr(t)
	r.URL = "http://" + addr
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	args := append([]string{"-C", redmineDir}, r.env()...)
	args = append(args, "bundle", "exec", "rails", "server", "-e", "production", "-b", "127.0.0.1", "-p", port, "-P", filepath.Join(r.dir, "server.pid"))
	srv := harness.Start(t, "", "env", args...)
	// Before the server stops (cleanups run last first), so that no
	// keep-alive connection of the test's is left reading.
	t.Cleanup(func() { r.client.CloseIdleConnections(); http.DefaultClient.CloseIdleConnections() })
	deadline := time.Now().Add(2 * time.Minute)
	for !r.answers() {
		if srv.Exited() || time.Now().After(deadline) {
			t.Fatalf("Redmine did not answer on %s within 2 minutes (exited: %v); the end of its log:\n%s\nits output:\n%s",
				r.URL, srv.Exited(), r.logTail(40), srv.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.Timings = append(r.Timings, Timing{"start the server", time.Since(start)})

	r.Project = "sonde-test"
	r.Do(t, http.MethodPost, "/projects.json", map[string]any{"project": map[string]any{"name": "Sonde test", "identifier": r.Project}}, nil)
	return r
}

// env is what makes Redmine's commands use the test's instance.
func (r *Redmine) env() []string {
	return []string{"REDMINE_INSTANCE=" + r.instance, "RAILS_ENV=production", "REDMINE_LANG=en"}
}

// step runs a command of Redmine's in its folder, for the test's
// instance, and returns its output.
func (r *Redmine) step(t *testing.T, what, name string, args ...string) string {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = redmineDir, append(os.Environ(), r.env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s\nthe end of Redmine's log:\n%s", what, err, out, r.logTail(40))
	}
	r.Timings = append(r.Timings, Timing{what, time.Since(start)})
	return string(out)
}

// answers says whether the REST API serves the admin.
func (r *Redmine) answers() bool {
	req, err := http.NewRequest(http.MethodGet, r.URL+"/users/current.json", nil)
	if err != nil {
		return false
	}
	req.Header.Set("X-Redmine-API-Key", r.APIKey)
	resp, err := r.client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// logTail is the last lines of the instance's production.log.
func (r *Redmine) logTail(lines int) string {
	b, err := os.ReadFile(filepath.Join(r.dir, "inst", "log", "production.log"))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(len(all)-lines, 0):], "\n")
}

// Do calls the REST API as the admin: in (when not nil) is sent as JSON,
// a 2xx answer is decoded into out (when not nil), anything else fails the
// test.
func (r *Redmine) Do(t *testing.T, method, path string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Redmine-API-Key", r.APIKey)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: HTTP %d, %v: %.500s", method, path, resp.StatusCode, err, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %.500s", method, path, err, data)
		}
	}
}

// AttachmentSHA256 downloads the attachment named name of issue key
// through its content_url and returns the bytes' SHA-256 (hex), or "" when
// the issue has no such attachment.
func (r *Redmine) AttachmentSHA256(t *testing.T, key, name string) string {
	t.Helper()
	var is struct {
		Issue struct {
			Attachments []struct {
				Filename   string `json:"filename"`
				ContentURL string `json:"content_url"`
			} `json:"attachments"`
		} `json:"issue"`
	}
	r.Do(t, http.MethodGet, "/issues/"+key+".json?include=attachments", nil, &is)
	for _, a := range is.Issue.Attachments {
		if a.Filename != name {
			continue
		}
		req, err := http.NewRequest(http.MethodGet, a.ContentURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Redmine-API-Key", r.APIKey)
		resp, err := r.client.Do(req)
		if err != nil {
			t.Fatalf("downloading %s: %v", name, err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		if _, err := io.Copy(h, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("downloading %s: HTTP %d, %v", name, resp.StatusCode, err)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	return ""
}

// Resolve sets issue key to Resolved (status 3 in Redmine's default data)
// and assigns it to the admin, whose name as Redmine shows it is returned.
func (r *Redmine) Resolve(t *testing.T, key string) string {
	t.Helper()
	var me struct {
		User struct {
			ID        int    `json:"id"`
			Firstname string `json:"firstname"`
			Lastname  string `json:"lastname"`
		} `json:"user"`
	}
	r.Do(t, http.MethodGet, "/users/current.json", nil, &me)
	r.Do(t, http.MethodPut, "/issues/"+key+".json", map[string]any{"issue": map[string]any{"status_id": 3, "assigned_to_id": me.User.ID}}, nil)
	return me.User.Firstname + " " + me.User.Lastname
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
