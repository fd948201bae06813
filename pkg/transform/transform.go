// Package transform is the transform service: it reads Commerce facts from
// COMMERCE and publishes NetSuite commands on NETSUITE (DESIGN.md §4).
package transform

import (
	"context"
	"io"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/service"
)

// Name is the service's name: binary, logs, NATS connection.
const Name = "transform"

// ServiceSpec is what the service uses from JetStream.
func ServiceSpec() service.Spec {
	return service.Spec{Name: Name, Streams: []string{event.StreamCommerce, event.StreamNetSuite, event.StreamSync, event.StreamDLQ}, Buckets: []string{event.BucketSettings, event.BucketItemMap, event.BucketCredentials}}
}

// Run runs the service until ctx is done. Its processing is not built yet:
// it provisions its streams, reports ready and waits for shutdown.
func Run(ctx context.Context, environ map[string]string, logOut io.Writer) error {
	return service.RunIdle(ctx, ServiceSpec(), environ, logOut)
}
