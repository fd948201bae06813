// Package writer is the netsuite-writer service: it executes NETSUITE
// commands against NetSuite and records outcomes on SYNC (DESIGN.md §4).
package writer

import (
	"context"
	"io"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/service"
)

// Name is the service's name: binary, logs, NATS connection.
const Name = "netsuite-writer"

// ServiceSpec is what the service uses from JetStream.
func ServiceSpec() service.Spec {
	return service.Spec{Name: Name, Streams: []string{event.StreamNetSuite, event.StreamSync, event.StreamDLQ}, Buckets: []string{event.BucketCredentials, event.BucketSynced, event.BucketCustomerMap, event.BucketSettings}}
}

// Run runs the service until ctx is done. Its processing is not built yet:
// it provisions its streams, reports ready and waits for shutdown.
func Run(ctx context.Context, environ map[string]string, logOut io.Writer) error {
	return service.RunIdle(ctx, ServiceSpec(), environ, logOut)
}
