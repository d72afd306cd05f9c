// Package limitfile reads files that may be larger than anyone should
// trust, refusing them past a limit without reading further.
package limitfile

import (
	"fmt"
	"io"
	"os"
)

// Read returns the contents of name, or an error if it holds more than max
// bytes. A file that is not there gives an error that matches
// fs.ErrNotExist (errors.Is).
func Read(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, max)
	}
	return b, nil
}
