//go:build helpdesk

package helpdesk

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// faultProxy stands between the collector and a helpdesk and plays a
// script on the requests that change something (anything but GET): "fail"
// answers 500 and forwards nothing; "hang" forwards nothing and answers
// nothing until the caller gives up; "lose" forwards the request, so the
// helpdesk does the work, then answers nothing until the caller gives up.
// Reads, and writes past the script's end, pass through.
type faultProxy struct {
	*httptest.Server
	target string
	mu     sync.Mutex
	script []string
	played []string          // what each write got, in order
	onPlay func(step string) // called as a step is played, outside the lock
	quit   chan struct{}     // closed at cleanup: held answers end
}

func newFaultProxy(t *testing.T, target string, script ...string) *faultProxy {
	p := &faultProxy{target: target, script: script, quit: make(chan struct{})}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() { close(p.quit); p.Close() })
	return p
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	step := "pass"
	p.mu.Lock()
	if r.Method != http.MethodGet && len(p.script) > 0 {
		step, p.script = p.script[0], p.script[1:]
	}
	if r.Method != http.MethodGet {
		p.played = append(p.played, step+" "+r.Method+" "+r.URL.Path)
	}
	on := p.onPlay
	p.mu.Unlock()
	if on != nil && step != "pass" {
		on(step)
	}
	switch step {
	case "fail":
		io.Copy(io.Discard, r.Body)
		http.Error(w, "internal error (injected)", http.StatusInternalServerError)
		return
	case "hang":
		io.Copy(io.Discard, r.Body) // then the server notices the caller leave
		p.hold(r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	req, _ := http.NewRequest(r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if step == "lose" {
		p.hold(r)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

// hold answers nothing until the caller gives up.
func (p *faultProxy) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-p.quit:
	}
}

// left is the script not played yet, and what was played.
func (p *faultProxy) left() ([]string, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.script...), append([]string(nil), p.played...)
}
