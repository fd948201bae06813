// Command netsuite-writer is the ml-connector netsuite-writer service. main only wires: the
// service lives in pkg/writer, and this binary links nothing of the others.
package main

import (
	"context"
	"os"

	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/writer"
)

func main() { service.Main(writer.Name, run) }

func run(ctx context.Context) error {
	return writer.Run(ctx, service.Environ(), os.Stdout)
}
