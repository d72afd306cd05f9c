// Package cliflag parses command lines where flags and arguments mix
// ("apikey create NAME --role l2"), which the flag package alone does not.
package cliflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sondehq/sonde/internal/render"
)

// Parse parses args with fs, letting flags follow positional arguments,
// and returns the positional arguments. "--" ends flag parsing. Its errors
// name the command (fs's name).
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %w", fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// New returns a FlagSet that reports errors instead of exiting, with a
// usage line.
func New(name, usage string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: %s\n", usage)
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(out, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// List is a flag holding a comma-separated list; it may be repeated.
type List []string

func (l *List) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *List) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// ErrUsage asks ExitCode to print the command's usage.
var ErrUsage = errors.New("usage")

// ExitCode turns a command's error into its exit status: 0 for success or
// -h, 2 with the usage for ErrUsage, 1 with "prog: error" otherwise.
func ExitCode(err error, prog, usage string, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprint(stderr, usage)
		return 2
	}
	// The error may quote a peer (a collector's refusal, an API's error)
	// or the host: each line is made safe for a terminal.
	fmt.Fprintln(stderr, prog+":", strings.Join(render.Lines(err.Error()), "\n"))
	return 1
}
