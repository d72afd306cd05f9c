//go:build !windows

package winreg

import "fmt"

// Live returns a Reader that fails: only Windows has a registry.
func Live() Reader { return none{} }

type none struct{}

func (none) Values(path string) (map[string]Value, error) {
	return nil, fmt.Errorf("%w: no registry on this system", ErrNotExist)
}

func (none) Subkeys(path string) ([]string, error) {
	return nil, fmt.Errorf("%w: no registry on this system", ErrNotExist)
}
