// Command transform is the ml-connector transform service. It only wires: the
// service itself lives in pkg/ (see pkg/fleet).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ml-connector/ml-connector/pkg/fleet"
	"github.com/ml-connector/ml-connector/pkg/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "transform:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	svc, err := fleet.Lookup("transform")
	if err != nil {
		return err
	}
	return svc.Run(ctx, service.Environ(), os.Stdout)
}
