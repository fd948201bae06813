// Command audit-mirror is the ml-connector audit-mirror service. main only wires: the
// service lives in pkg/auditmirror, and this binary links nothing of the others.
package main

import (
	"context"
	"os"

	"github.com/ml-connector/ml-connector/pkg/auditmirror"
	"github.com/ml-connector/ml-connector/pkg/service"
)

func main() { service.Main(auditmirror.Name, run) }

func run(ctx context.Context) error {
	return auditmirror.Run(ctx, service.Environ(), os.Stdout)
}
