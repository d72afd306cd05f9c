//go:build !windows

package state

// restrict is a no-op where file modes do the work: the dir is 0700 and
// the key 0600.
func restrict(string) error { return nil }
