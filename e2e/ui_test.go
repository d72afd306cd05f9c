package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// chromium is Debian's browser, which .ci/run installs.
const chromium = "/usr/bin/chromium"

// newBrowser starts a headless Chromium with a fresh profile and returns
// a context for its first tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the UI test drives Chromium: apt-get install chromium (%v)", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// browserDo runs browser steps or fails the test.
func browserDo(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// browserGet runs one browser action that returns a value, or fails the test.
func browserGet[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestUI is an L2 engineer's session in a real browser: log in, take a
// snapshot, open a ticket, attach a bundle and download it, then look at a
// machine whose snapshot carries markup in its hostname.
func TestUI(t *testing.T) {
	s := startSonde(t)
	ctx := newBrowser(t)

	// Every page asks for a key first.
	browserDo(t, ctx, chromedp.Navigate(s.base+"/agents/"+s.agentID), chromedp.WaitVisible(chromedp.ID("key")))
	if loc := browserGet(t, ctx, chromedp.Location()); !strings.Contains(loc, "/login") {
		t.Fatalf("not sent to the login page: %s", loc)
	}
	browserDo(t, ctx, chromedp.SendKeys(chromedp.ID("key"), s.key), chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("take-snapshot")))
	if who := browserGet(t, ctx, chromedp.Text(chromedp.CSS(".who"))); !strings.Contains(who, "e2e") || !strings.Contains(who, "L2") {
		t.Errorf("the nav bar shows %q", who)
	}

	browserDo(t, ctx, chromedp.Click(chromedp.ID("take-snapshot")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if msg := browserGet(t, ctx, chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(msg, "Snapshot") || !strings.Contains(msg, "taken") {
		t.Fatalf("after Take snapshot: %q", msg)
	}
	if n := len(browserGet(t, ctx, chromedp.Nodes(chromedp.CSSAll("details.probe")))); n < 5 {
		t.Errorf("the agent page shows %d probe sections", n)
	}

	browserDo(t, ctx, chromedp.Navigate(s.base+"/tickets"),
		chromedp.SendKeys(chromedp.ID("ref"), "INC-UI-1"),
		chromedp.SendKeys(chromedp.ID("title"), "Laptop slow since Monday"),
		chromedp.SendKeys(chromedp.ID("agents"), s.host),
		chromedp.Click(chromedp.ID("open")),
		chromedp.WaitVisible(chromedp.ID("act")))
	if h1 := browserGet(t, ctx, chromedp.Text(chromedp.CSS("h1"))); !strings.Contains(h1, "INC-UI-1") {
		t.Fatalf("after opening a ticket: %q", h1)
	}

	browserDo(t, ctx, chromedp.Navigate(s.base+"/agents/"+s.agentID),
		chromedp.SendKeys(chromedp.ID("ticket"), "INC-UI-1"),
		chromedp.Click(chromedp.CSS(`input[name="pseudonymize"]`)),
		chromedp.Click(chromedp.ID("attach-bundle")),
		chromedp.WaitVisible(chromedp.CSS("a.download")))
	if msg := browserGet(t, ctx, chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(msg, "attached to INC-UI-1") {
		t.Fatalf("after attaching a bundle: %q", msg)
	}

	// The bundle took a second full snapshot: what changed since the first.
	browserDo(t, ctx, chromedp.Navigate(s.base+"/agents/"+s.agentID+"/diff"), chromedp.WaitVisible(chromedp.CSS("pre.diff")))
	browserDo(t, ctx, chromedp.Navigate(s.base+"/tickets/INC-UI-1"), chromedp.WaitVisible(chromedp.CSS("a.download")))

	file := downloadBundle(t, ctx)
	if out := mustRun(t, s.env, "sonde", "bundle", "verify", file); !strings.Contains(out, "OK") {
		t.Fatalf("sonde bundle verify: %s", out)
	}
	if report := zipFile(t, file, "report.txt"); !strings.Contains(report, "INC-UI-1") {
		t.Errorf("the downloaded bundle's report:\n%s", report)
	}

	// A machine whose snapshot carries a script in its hostname: the page
	// shows the text, and no script runs.
	const evil = `<script>window.pwned=1</script>`
	var imp struct {
		AgentID string `json:"agent_id"`
	}
	if code := api(t, "POST", s.base+"/api/v1/tickets/INC-UI-1/import", s.key, bytes.NewReader(evilSnapshot(t, evil)), &imp); code != 201 {
		t.Fatalf("import: %d", code)
	}
	for _, page := range []string{"/", "/agents/" + imp.AgentID, "/tickets/INC-UI-1"} {
		browserDo(t, ctx, chromedp.Navigate(s.base+page), chromedp.WaitVisible(chromedp.CSS("main")))
		if body := browserGet(t, ctx, chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, evil) {
			t.Errorf("%s does not show the hostname as text", page)
		}
		if typ := browserGet(t, ctx, chromedp.Evaluate[string](`typeof window.pwned`)); typ != "undefined" {
			t.Errorf("%s ran the agent's script: window.pwned is %s", page, typ)
		}
	}
	screenshots(t, ctx, s)
}

// downloadBundle clicks the ticket page's first download link and returns
// the file the browser saved.
func downloadBundle(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	browserDo(t, ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		on := true
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &on,
		})
		return err
	}), chromedp.Click(chromedp.CSS("a.download")))
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			return filepath.Join(dir, ev.GUID)
		case browser.DownloadProgressStateCanceled:
			t.Fatal("the browser cancelled the bundle download")
		}
	}
	t.Fatal("no download")
	return ""
}

// evilSnapshot is the full-disk fixture of package findings, from a
// machine whose hostname is hostname.
func evilSnapshot(t *testing.T, hostname string) []byte {
	t.Helper()
	b, err := os.ReadFile("../findings/testdata/full-disk-failed-service/snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	facts := doc["facts"].(map[string]any)
	facts["hostname"], facts["host_id"] = hostname, "e2e-ui-evil-host"
	delete(doc, "agent_id")
	out, _ := json.Marshal(doc)
	return out
}

// screenshots saves the agent and ticket pages as PNG files in the folder
// SONDE_UI_SCREENSHOTS names, for people to look at; unset, it does nothing.
func screenshots(t *testing.T, ctx context.Context, s *sonde) {
	t.Helper()
	dir := os.Getenv("SONDE_UI_SCREENSHOTS")
	if dir == "" {
		return
	}
	for name, page := range map[string]string{"ui-agents.png": "/", "ui-agent.png": "/agents/" + s.agentID, "ui-ticket.png": "/tickets/INC-UI-1"} {
		browserDo(t, ctx, chromedp.Navigate(s.base+page), chromedp.WaitVisible(chromedp.CSS("main")))
		if name == "ui-agent.png" { // show how a probe's data reads
			browserDo(t, ctx, chromedp.Click(chromedp.CSS("details.probe:nth-of-type(2) summary")))
		}
		shot(t, ctx, name)
	}
}

// shot saves the page as $SONDE_UI_SCREENSHOTS/name, when that is set.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if dir := os.Getenv("SONDE_UI_SCREENSHOTS"); dir != "" {
		png := browserGet(t, ctx, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUIAsL1 is a help-desk agent's session in a real browser: the pages
// offer L1 what it may do — open a ticket at L1, attach a fresh snapshot
// of its machine, escalate to L2 — and no download of raw data.
func TestUIAsL1(t *testing.T) {
	s := startSonde(t)
	ctx := newBrowser(t)
	key := firstLine(mustRun(t, nil, "sonde-collector", "apikey", "create", "alice", "--role", "l1", "--data", s.data))
	browserDo(t, ctx, chromedp.Navigate(s.base+"/tickets"), chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), key), chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("open-ticket")),
		chromedp.SendKeys(chromedp.ID("ref"), "INC-L1"),
		chromedp.SendKeys(chromedp.ID("title"), "Outlook does not start"),
		chromedp.SendKeys(chromedp.ID("agents"), s.host),
		chromedp.Click(chromedp.ID("open")),
		chromedp.WaitVisible(chromedp.CSS("button.attach-bundle")))
	if tier := browserGet(t, ctx, chromedp.Text(chromedp.ID("tier"))); tier != "L1" {
		t.Errorf("L1's new ticket is at %q", tier)
	}
	browserDo(t, ctx, chromedp.Click(chromedp.CSS("button.attach-bundle")), chromedp.WaitVisible(chromedp.ID("bundles")))
	if msg := browserGet(t, ctx, chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(msg, "attached to INC-L1, from a fresh snapshot") {
		t.Fatalf("after attaching a fresh snapshot as L1: %q", msg)
	}
	if n := browserGet(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("a.download").length`)); n != 0 {
		t.Errorf("L1 is offered %d bundle downloads", n)
	}
	shot(t, ctx, "ui-l1-ticket.png")
	if opts := browserGet(t, ctx, chromedp.Text(chromedp.ID("to"))); strings.Contains(opts, "L3") {
		t.Errorf("L1 is offered escalation to %q", opts)
	}
	browserDo(t, ctx, chromedp.SendKeys(chromedp.ID("text"), "user restarted twice, no change"),
		chromedp.Click(chromedp.CSS(`button[value="escalate"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(@class, "flash") and contains(., "Escalated to L2")]`)))
	if tier := browserGet(t, ctx, chromedp.Text(chromedp.ID("tier"))); tier != "L2" {
		t.Errorf("after escalating, the ticket is at %q", tier)
	}
	if n := browserGet(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('button[value="resolve"]').length`)); n != 0 {
		t.Error("L1 is offered to resolve a ticket at L2")
	}
}
