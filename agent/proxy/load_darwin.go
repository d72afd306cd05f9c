package proxy

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/sondehq/sonde/agent/proxy/sysproxy"
)

// maxPreferences bounds the network preferences read.
const maxPreferences = 4 << 20

// LoadSystem reads the operating system's proxy settings (see System).
// Call it at start and when the network changes, not for every dial. It
// never fails: what it could not read is in System.Problems.
//
// macOS keeps them in the SystemConfiguration preferences
// (sysproxy.PreferencesFile), read here as a file: the agent's connection
// runs no tool.
func LoadSystem(ctx context.Context) *System {
	f, err := os.Open(sysproxy.PreferencesFile)
	if err != nil {
		return darwinSystem(nil, fmt.Errorf("reading the network preferences: %w", err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPreferences))
	if err != nil {
		return darwinSystem(nil, fmt.Errorf("reading the network preferences: %w", err))
	}
	return darwinSystem(b, nil)
}
