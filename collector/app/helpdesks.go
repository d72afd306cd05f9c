package app

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/courier"
	"github.com/sondehq/sonde/collector/helpdesk"
	_ "github.com/sondehq/sonde/collector/helpdesk/all" // the connectors
	"github.com/sondehq/sonde/collector/store"
)

// helpdeskFlags are serve's flags for the customer's helpdesks.
type helpdeskFlags struct {
	file      *string
	publicURL *string
	retry     *time.Duration
}

func (f *helpdeskFlags) register(fs *flag.FlagSet) {
	f.file = fs.String("helpdesks", "", "helpdesks `file` (YAML) naming the connectors tickets link to (default: DATA/helpdesks.yaml when it exists)")
	f.publicURL = fs.String("public-url", "", "`URL` people reach this collector's UI at, for links from helpdesks and alerts (default: the --http address)")
	f.retry = fs.Duration("helpdesk-retry", 10*time.Second, "first delay before a failed helpdesk delivery is retried; it doubles up to an hour")
}

func (f *helpdeskFlags) check() error {
	if *f.publicURL != "" {
		if err := checkURL("--public-url", *f.publicURL); err != nil {
			return err
		}
	}
	if *f.retry <= 0 {
		return fmt.Errorf("--helpdesk-retry must be positive (got %s)", *f.retry)
	}
	return nil
}

// helpdesks are the connectors of the helpdesks file, loaded before the
// collector listens: a mistake in the file costs no port.
type helpdesks struct {
	path     string
	conns    map[string]helpdesk.Connector
	settings map[string]helpdesk.Settings
}

// loadHelpdesks reads the helpdesks file, if any; nil when it names no
// helpdesk.
func loadHelpdesks(f helpdeskFlags, data string) (*helpdesks, error) {
	path := *f.file
	if path == "" {
		path = filepath.Join(data, "helpdesks.yaml")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	conns, settings, err := helpdesk.Load(path)
	if err != nil {
		return nil, fmt.Errorf("loading the %w", err)
	}
	if len(conns) == 0 {
		return nil, nil
	}
	return &helpdesks{path: path, conns: conns, settings: settings}, nil
}

// courier makes the courier of h; nil when h is.
func (h *helpdesks) courier(f helpdeskFlags, data, publicURL string, st store.Store, log *slog.Logger) *courier.Courier {
	if h == nil {
		return nil
	}
	c := &courier.Courier{Store: st, Connectors: h.conns, Settings: h.settings, BundleDir: filepath.Join(data, "bundles"),
		PublicURL: publicURL, Retry: *f.retry, Log: log}
	log.Info("helpdesks", "file", h.path, "connectors", strings.Join(c.Names(), ", "))
	return c
}
