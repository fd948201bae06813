// Package fleet is the list of ml-connector services that `mlc dev` and the
// end-to-end tests start in one process. It is the only package that knows
// every service; a service binary imports just its own package.
package fleet

import (
	"context"
	"io"

	"github.com/ml-connector/ml-connector/pkg/auditmirror"
	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/transform"
	"github.com/ml-connector/ml-connector/pkg/writer"
)

// Service is one runnable service.
type Service struct {
	Spec service.Spec
	// Run starts the service with the given environment and blocks until
	// ctx is done and the service has shut down.
	Run func(ctx context.Context, environ map[string]string, logOut io.Writer) error
}

// All returns every service in start order.
func All() []Service {
	return []Service{
		{Spec: ingest.ServiceSpec(), Run: ingest.Run},
		{Spec: transform.ServiceSpec(), Run: transform.Run},
		{Spec: writer.ServiceSpec(), Run: writer.Run},
		{Spec: inventory.ServiceSpec(), Run: inventory.Run},
		{Spec: auditmirror.ServiceSpec(), Run: auditmirror.Run},
	}
}
