package alert

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Reloader holds the rules of a default pack and a directory, and reloads
// them on demand or when the directory's files change. A bad reload keeps
// the rules in force. It is a RuleSource, safe for concurrent use.
type Reloader struct {
	defaults fs.FS
	dir      string

	cur atomic.Pointer[RuleSet]
	mu  sync.Mutex // serialises reloads
	// stamp is the directory's state at the last reload attempt.
	stamp string
}

// NewReloader loads the rules once; it fails when they do not load.
func NewReloader(defaults fs.FS, dir string) (*Reloader, error) {
	r := &Reloader{defaults: defaults, dir: dir}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Current returns the rules in force.
func (r *Reloader) Current() *RuleSet { return r.cur.Load() }

// Reload loads the rules again. On error the previous rules stay in
// force and the error, naming each bad file and line, is returned.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload()
}

func (r *Reloader) reload() error {
	r.stamp, _ = dirStamp(r.dir)
	rs, err := Load(r.defaults, r.dir)
	if err != nil {
		if r.cur.Load() != nil {
			return fmt.Errorf("rules not reloaded, previous rules kept: %w", err)
		}
		return err
	}
	r.cur.Store(rs)
	return nil
}

// Check reloads when the directory's rule files changed (by name, size or
// modification time) since the last attempt, and reports whether it did.
func (r *Reloader) Check() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp, err := dirStamp(r.dir)
	if err != nil {
		return false, err
	}
	if stamp == r.stamp {
		return false, nil
	}
	return true, r.reload()
}

// Watch polls the directory every interval until ctx is done, reloading
// when its files change; onErr, which may be nil, receives every error
// (the rules in force stay). A failed reload is not retried until the
// files change again.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.Check(); err != nil && onErr != nil {
			onErr(err)
		}
	}
}

// dirStamp describes the rule files of dir: names, sizes and modification
// times. A missing directory has an empty stamp.
func dirStamp(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("listing rule files: %w", err)
	}
	var b strings.Builder
	for _, e := range entries {
		if ext := path.Ext(e.Name()); e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since the listing
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\n", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	return b.String(), nil
}
