// Command transform is the ml-connector transform service. main only wires: the
// service lives in pkg/transform, and this binary links nothing of the others.
package main

import (
	"context"
	"os"

	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/transform"
)

func main() { service.Main(transform.Name, run) }

func run(ctx context.Context) error {
	return transform.Run(ctx, service.Environ(), os.Stdout)
}
