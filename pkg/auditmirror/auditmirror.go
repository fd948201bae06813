// Package auditmirror is the audit-mirror service: every message of every
// stream into ClickHouse (DESIGN.md §4). One durable consumer per stream
// hands batches (thousands of messages or one second, whichever first) to
// one INSERT each; the messages are acked only after ClickHouse took the
// insert. ClickHouse being down holds the batch and backs off: the audit
// falls behind, the business flow does not notice, and once ClickHouse is
// back the mirror catches up from where it stopped.
package auditmirror

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/service"
)

// Name is the service's name: binary, logs, NATS connection.
const Name = "audit-mirror"

// ServiceSpec is what the service uses from JetStream.
func ServiceSpec() service.Spec {
	return service.Spec{Name: Name, Streams: event.Streams(), Buckets: nil}
}

// Config is audit-mirror's environment.
type Config struct {
	service.Base
	// ClickHouseDSN is clickhouse://user:password@host:9000/db or a bare
	// host:port (native protocol). Unset, the service runs but stays
	// unready and mirrors nothing.
	ClickHouseDSN string `env:"MLC_CLICKHOUSE_DSN"`
	// RetentionDays is how long audit rows are kept (0: forever).
	RetentionDays int `env:"MLC_AUDIT_RETENTION_DAYS" envDefault:"365"`
	// BatchSize and BatchWait: a batch is inserted when it has BatchSize
	// messages or BatchWait has passed, whichever comes first.
	BatchSize int           `env:"MLC_AUDIT_BATCH_SIZE" envDefault:"5000"`
	BatchWait time.Duration `env:"MLC_AUDIT_BATCH_WAIT" envDefault:"1s"`
	// Workers is how many batch loops share each stream's consumer, so
	// that one fetches and acks while another inserts (for a ClickHouse
	// with cores to spare; on this project's 2-core machine more than one
	// showed no gain within the noise).
	Workers int `env:"MLC_AUDIT_WORKERS" envDefault:"1"`
	// LagInterval is how often the lag per stream is measured.
	LagInterval time.Duration `env:"MLC_AUDIT_LAG_INTERVAL" envDefault:"5s"`
}

// Validate checks the settings.
func (c Config) Validate() error {
	if err := c.Base.Validate(); err != nil {
		return err
	}
	switch {
	case c.RetentionDays < 0:
		return fmt.Errorf("MLC_AUDIT_RETENTION_DAYS must be 0 (forever) or more, got %d", c.RetentionDays)
	case c.BatchSize < 1 || c.BatchSize > maxBatch:
		return fmt.Errorf("MLC_AUDIT_BATCH_SIZE must be 1..%d, got %d", maxBatch, c.BatchSize)
	case c.Workers < 1 || c.Workers*c.BatchSize > maxBatch:
		return fmt.Errorf("MLC_AUDIT_WORKERS (%d) x MLC_AUDIT_BATCH_SIZE (%d) must be 1..%d", c.Workers, c.BatchSize, maxBatch)
	case c.BatchWait <= 0 || c.LagInterval <= 0:
		return fmt.Errorf("MLC_AUDIT_BATCH_WAIT and MLC_AUDIT_LAG_INTERVAL must be positive")
	}
	return nil
}

// maxBatch: all workers' batches in flight stay within the consumers'
// max_ack_pending (20000, streams/).
const maxBatch = 20000

// Run runs the service until ctx is done.
func Run(ctx context.Context, environ map[string]string, logOut io.Writer) error {
	cfg, err := service.LoadConfig[Config](environ)
	if err != nil {
		return err
	}
	rt, err := service.Start(ctx, ServiceSpec(), cfg.Base, logOut)
	if err != nil {
		return err
	}
	rt.Log.Info().Interface("config", service.Describe(cfg)).Msg("configured")
	m := New(rt.JS, cfg, NewMetrics(rt.HTTP.Registry), rt.Log)
	rt.HTTP.AddCheck("clickhouse", m.Ready)
	return rt.Serve(ctx, m.Run)
}
