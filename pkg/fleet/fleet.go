// Package fleet is the list of ml-connector services and how each one is
// started, so that a service binary and `mlc dev` start them the same way.
package fleet

import (
	"context"
	"fmt"
	"io"

	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/service"
)

// Service is one runnable service.
type Service struct {
	Spec service.Spec
	// Run starts the service with the given environment and blocks until
	// ctx is done and the service has shut down.
	Run func(ctx context.Context, environ map[string]string, logOut io.Writer) error
}

// Names of the services, as used for binaries, logs and consumers.
const (
	Ingest             = "ingest"
	Transform          = "transform"
	NetSuiteWriter     = "netsuite-writer"
	InventoryPublisher = "inventory-publisher"
	AuditMirror        = "audit-mirror"
)

// All returns every service in start order.
func All() []Service {
	return []Service{
		{Spec: ingest.ServiceSpec(), Run: ingest.Run},
		idle(service.Spec{Name: Transform, Streams: []string{"COMMERCE", "NETSUITE", "DLQ"}, Buckets: []string{"mlc_settings", "mlc_item_map"}}),
		idle(service.Spec{Name: NetSuiteWriter, Streams: []string{"NETSUITE", "SYNC", "DLQ"}, Buckets: []string{"mlc_credentials", "mlc_synced", "mlc_customer_map", "mlc_settings"}}),
		idle(service.Spec{Name: InventoryPublisher, Streams: []string{"INVENTORY", "SYNC", "DLQ"}, Buckets: []string{"mlc_credentials", "mlc_item_map", "mlc_settings", "mlc_checkpoints"}}),
		idle(service.Spec{Name: AuditMirror, Streams: []string{"COMMERCE", "NETSUITE", "SYNC", "INVENTORY", "DLQ"}}),
	}
}

// Lookup returns the named service.
func Lookup(name string) (Service, error) {
	for _, s := range All() {
		if s.Spec.Name == name {
			return s, nil
		}
	}
	return Service{}, fmt.Errorf("unknown service %q", name)
}

// idle is a service whose processing is not built yet: it provisions its
// streams, reports ready and waits for shutdown.
func idle(spec service.Spec) Service {
	return Service{Spec: spec, Run: func(ctx context.Context, environ map[string]string, logOut io.Writer) error {
		base, err := service.LoadConfig[service.Base](environ)
		if err != nil {
			return err
		}
		rt, err := service.Start(ctx, spec, base, logOut)
		if err != nil {
			return err
		}
		rt.Log.Info().Interface("config", service.Describe(base)).Msg("configured; idle: this service's processing is not built yet")
		return rt.Serve(ctx)
	}}
}
