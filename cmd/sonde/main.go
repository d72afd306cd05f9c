// Command sonde is the L2 engineer's command line: see collector/cli.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/sondehq/sonde/collector/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
