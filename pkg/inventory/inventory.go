// Package inventory is the inventory-publisher service: NetSuite prices and
// stock to INVENTORY, and INVENTORY to the Commerce catalogue (DESIGN.md §4).
package inventory

import (
	"context"
	"io"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/service"
)

// Name is the service's name: binary, logs, NATS connection.
const Name = "inventory-publisher"

// ServiceSpec is what the service uses from JetStream.
func ServiceSpec() service.Spec {
	return service.Spec{Name: Name, Streams: []string{event.StreamInventory, event.StreamSync, event.StreamDLQ}, Buckets: []string{event.BucketCredentials, event.BucketItemMap, event.BucketSettings, event.BucketCheckpoints}}
}

// Run runs the service until ctx is done. Its processing is not built yet:
// it provisions its streams, reports ready and waits for shutdown.
func Run(ctx context.Context, environ map[string]string, logOut io.Writer) error {
	return service.RunIdle(ctx, ServiceSpec(), environ, logOut)
}
