// Command mlc is the ml-connector operator CLI: the dev stack, simulators,
// streams, connections, credentials, audit, replay, DLQ and benchmarks.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "mlc:", err)
		os.Exit(1)
	}
}
