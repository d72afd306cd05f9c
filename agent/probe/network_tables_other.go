//go:build !windows

package probe

// hostSocketTables is nil: only Windows has owner-PID socket tables.
var hostSocketTables func() ([]socketTable, error)
