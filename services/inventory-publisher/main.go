// Command inventory-publisher is the ml-connector inventory-publisher service. main only wires: the
// service lives in pkg/inventory, and this binary links nothing of the others.
package main

import (
	"context"
	"os"

	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/service"
)

func main() { service.Main(inventory.Name, run) }

func run(ctx context.Context) error {
	return inventory.Run(ctx, service.Environ(), os.Stdout)
}
