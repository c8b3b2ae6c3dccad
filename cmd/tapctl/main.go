// Command tapctl is TAP's operator and developer CLI (internal/cli).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tap-trading/tap/internal/cli"
)

func main() {
	// Ctrl-C and SIGTERM cancel the context: commands stop cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.DefaultEnv())
	stop()
	os.Exit(code)
}
