// Package inventory is the inventory-publisher service: NetSuite prices and
// stock to INVENTORY, and INVENTORY to the Commerce catalogue (DESIGN.md §4).
//
// Publisher (the NetSuite side) reads the item table, per-location stock
// and the configured price list with keyset-paged SuiteQL, keeps
// mlc_item_map current, diffs every store's SKUs against the last
// published snapshot (mlc_inventory) and publishes one change per SKU
// whose price or stock moved. Scheduler runs it on each store's schedule;
// `mlc sync inventory` runs it on demand. Writer (the Commerce side)
// consumes INVENTORY in batches and writes base-prices and source-items.
// The pure logic is in pkg/stock; the README section "inventory-publisher"
// documents the settings and the decisions.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Name is the service's name: binary, logs, NATS connection.
const Name = "inventory-publisher"

// ServiceSpec is what the service uses from JetStream.
func ServiceSpec() service.Spec {
	return service.Spec{Name: Name, Streams: []string{event.StreamInventory, event.StreamSync, event.StreamDLQ},
		Buckets: []string{event.BucketCredentials, event.BucketItemMap, event.BucketSettings, event.BucketCheckpoints, event.BucketInventory}}
}

// Config is the service's environment. What to sync and when is in the
// "inventory" settings document (Settings), changeable without a restart.
type Config struct {
	service.Base
	// Schedule runs the stores' schedules (false: writer only, runs come
	// from `mlc sync inventory`).
	Schedule bool `env:"MLC_INVENTORY_SCHEDULE" envDefault:"true"`
	// ScheduleCheck bounds how long a changed schedule goes unnoticed.
	ScheduleCheck time.Duration `env:"MLC_INVENTORY_SCHEDULE_CHECK" envDefault:"30s"`
	// PageSize is the SuiteQL page size (NetSuite's maximum is 1000).
	PageSize int `env:"MLC_INVENTORY_PAGE_SIZE" envDefault:"1000"`
	// Workers is how many changes are published at once.
	Workers int `env:"MLC_INVENTORY_WORKERS" envDefault:"32"`
	// WriteBatch is how many INVENTORY messages the writer takes at once
	// (at most the consumer's max_ack_pending); WriteWait the longest wait
	// to fill a batch.
	WriteBatch int           `env:"MLC_INVENTORY_WRITE_BATCH" envDefault:"500"`
	WriteWait  time.Duration `env:"MLC_INVENTORY_WRITE_WAIT" envDefault:"500ms"`
	// BulkPoll is how often a bulk's status is asked (write_mode bulk).
	BulkPoll time.Duration `env:"MLC_INVENTORY_BULK_POLL" envDefault:"1s"`
	// MemoryLimit is the soft memory limit the service sets for its
	// process unless GOMEMLIMIT is set (memlimit.go says why).
	MemoryLimit MemoryLimit `env:"MLC_INVENTORY_MEMORY_LIMIT" envDefault:"150MiB"`
}

// Validate checks the settings.
func (c Config) Validate() error {
	if err := c.Base.Validate(); err != nil {
		return err
	}
	if c.PageSize < 1 || c.PageSize > 1000 || c.Workers < 1 || c.WriteBatch < 1 || c.WriteWait <= 0 || c.BulkPoll <= 0 || c.ScheduleCheck <= 0 {
		return fmt.Errorf("MLC_INVENTORY_*: page size %d (1..1000), workers %d, write batch %d, write wait %v, bulk poll %v, schedule check %v: want positive values",
			c.PageSize, c.Workers, c.WriteBatch, c.WriteWait, c.BulkPoll, c.ScheduleCheck)
	}
	return nil
}

// Run runs the service until ctx is done.
func Run(ctx context.Context, environ map[string]string, logOut io.Writer) error {
	cfg, err := service.LoadConfig[Config](environ)
	if err != nil {
		return err
	}
	keys, err := secrets.LoadKeyring(func(k string) string { return environ[k] })
	if err != nil {
		return fmt.Errorf("%s needs the master key to read the NetSuite and Commerce connections: %w", Name, err)
	}
	rt, err := service.Start(ctx, ServiceSpec(), cfg.Base, logOut)
	if err != nil {
		return err
	}
	rt.Log.Info().Interface("config", service.Describe(cfg)).Msg("configured")
	limit, restore := ApplyMemoryLimit(cfg.MemoryLimit)
	defer restore()
	rt.Log.Info().Str("memory_limit", MemoryLimit(limit).String()).Msg("soft memory limit in force")
	credKV, err := rt.JS.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		return err
	}
	creds := secrets.NewStore(credKV, keys)
	m := NewMetrics(rt.HTTP.Registry)
	host, _ := os.Hostname()
	pub, err := NewPublisher(ctx, rt.JS, creds, WithPageSize(cfg.PageSize), WithWorkers(cfg.Workers), WithLogger(rt.Log),
		WithMetrics(m), WithHolder(host+"/"+uuid.NewString()))
	if err != nil {
		return err
	}
	setKV, err := rt.JS.KeyValue(ctx, event.BucketSettings)
	if err != nil {
		return err
	}
	st := newStores(creds, m, cfg.BulkPoll)
	w, err := newWriter(ctx, rt.JS, st, pub.snap, settings.New(setKV), m, rt.Log)
	if err != nil {
		return err
	}
	rt.HTTP.AddCheck("netsuite", func(ctx context.Context) error {
		_, err := connection.LoadNetSuite(ctx, creds)
		return err
	})
	rt.HTTP.AddCheck("settings", func(ctx context.Context) error {
		_, err := pub.loadSettings(ctx)
		if err != nil {
			return fmt.Errorf("%q settings: %w", SettingsKey, err)
		}
		return nil
	})
	workers := []service.Worker{
		func(ctx context.Context) error {
			return stream.ConsumeBatch(ctx, rt.JS, event.StreamInventory, event.DurableCommerceWriter, w.Handle,
				stream.WithBatch(cfg.WriteBatch, cfg.WriteWait), stream.WithLogger(rt.Log))
		},
		func(ctx context.Context) error {
			// A changed or deleted connection: the next batch rebuilds its client.
			err := connection.WatchCommerce(ctx, creds, func(c connection.Commerce, deleted bool, err error) {
				if err == nil {
					st.forget(c.Store)
				}
			})
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	if cfg.Schedule {
		workers = append(workers, NewScheduler(pub, cfg.ScheduleCheck).Run)
	}
	return rt.Serve(ctx, workers...)
}
