// Command ingest is the ml-connector ingest service. main only wires: the
// service lives in pkg/ingest, and this binary links nothing of the others.
package main

import (
	"context"
	"os"

	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/service"
)

func main() { service.Main(ingest.Name, run) }

func run(ctx context.Context) error {
	return ingest.Run(ctx, service.Environ(), os.Stdout)
}
