// Command sonde-loadgen simulates a fleet of agents against a collector and
// measures it: see package loadgen.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sondehq/sonde/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(loadgen.Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
