//go:build !linux && !windows && !darwin

package proxy

import "context"

// LoadSystem reads the operating system's proxy settings: none on this
// platform, where only agent.yaml and the environment count.
func LoadSystem(ctx context.Context) *System { return &System{} }
