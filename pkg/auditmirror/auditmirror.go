// Package auditmirror is the audit-mirror service: every message of every
// stream into ClickHouse (DESIGN.md §4).
package auditmirror

import (
	"context"
	"io"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/service"
)

// Name is the service's name: binary, logs, NATS connection.
const Name = "audit-mirror"

// ServiceSpec is what the service uses from JetStream.
func ServiceSpec() service.Spec {
	return service.Spec{Name: Name, Streams: event.Streams(), Buckets: nil}
}

// Run runs the service until ctx is done. Its processing is not built yet:
// it provisions its streams, reports ready and waits for shutdown.
func Run(ctx context.Context, environ map[string]string, logOut io.Writer) error {
	return service.RunIdle(ctx, ServiceSpec(), environ, logOut)
}
