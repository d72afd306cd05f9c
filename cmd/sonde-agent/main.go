// Command sonde-agent is the Sonde diagnostics agent: see agent/app.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sondehq/sonde/agent/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
