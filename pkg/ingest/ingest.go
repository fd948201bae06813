// Package ingest is the front door: it receives Commerce webhooks and Adobe
// I/O Events (verify the raw bytes, then decode, then publish and wait for
// the JetStream ack), and runs the backfill poll that finds whatever a
// webhook missed. Both publish to COMMERCE with the same message ids, so a
// fact that arrives twice is stored once.
package ingest

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Name is the service's name: binary, logs, NATS connection.
const Name = "ingest"

// ServiceSpec is what ingest uses from JetStream.
func ServiceSpec() service.Spec {
	return service.Spec{Name: Name, Streams: []string{event.StreamCommerce}, Buckets: []string{event.BucketCheckpoints, event.BucketCredentials}}
}

// Config is ingest's environment.
type Config struct {
	service.Base
	// DefaultStore is the store of a webhook that names none (no
	// X-Mlc-Store header, no store in the path).
	DefaultStore string        `env:"MLC_COMMERCE_STORE" envDefault:"default"`
	MaxBody      int64         `env:"MLC_INGEST_MAX_BODY" envDefault:"1048576"`
	AckTimeout   time.Duration `env:"MLC_INGEST_ACK_TIMEOUT" envDefault:"1s"`
	Poll         PollConfig
}

// Validate checks the settings.
func (c Config) Validate() error {
	if err := c.Base.Validate(); err != nil {
		return err
	}
	if c.MaxBody <= 0 || c.AckTimeout <= 0 {
		return fmt.Errorf("MLC_INGEST_MAX_BODY and MLC_INGEST_ACK_TIMEOUT must be positive")
	}
	return c.Poll.Validate()
}

// Run runs ingest until ctx is done.
func Run(ctx context.Context, environ map[string]string, logOut io.Writer) error {
	cfg, err := service.LoadConfig[Config](environ)
	if err != nil {
		return err
	}
	keys, err := secrets.LoadKeyring(func(k string) string { return environ[k] })
	if err != nil {
		return fmt.Errorf("ingest needs the master key to read the Commerce connections: %w", err)
	}
	rt, err := service.Start(ctx, ServiceSpec(), cfg.Base, logOut)
	if err != nil {
		return err
	}
	rt.Log.Info().Interface("config", service.Describe(cfg)).Msg("configured")
	credKV, err := rt.JS.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		return err
	}
	checkpoints, err := rt.JS.KeyValue(ctx, event.BucketCheckpoints)
	if err != nil {
		return err
	}
	creds := secrets.NewStore(credKV, keys)
	stores := NewStores(nil)
	conns, err := connection.ListCommerce(ctx, creds)
	if err != nil {
		return fmt.Errorf("load Commerce connections: %w", err)
	}
	for _, c := range conns {
		if err := stores.Set(c); err != nil {
			rt.Log.Error().Err(err).Str("store", c.Store).Msg("store connection unusable")
		}
	}
	if err := stores.ResolveIDs(ctx); err != nil {
		rt.Log.Warn().Err(err).Msg("store ids unresolved: webhooks are filed by header, the poll retries the lookup")
	}
	rt.HTTP.AddCheck("commerce", func(context.Context) error {
		if len(stores.All()) == 0 {
			return fmt.Errorf("no Commerce store connected (run mlc connect commerce)")
		}
		return nil
	})
	m := NewMetrics(rt.HTTP.Registry)
	pub := stream.NewPublisher(rt.JS)
	NewWebhooks(stores, pub, m, rt.Log, cfg.MaxBody, cfg.AckTimeout, cfg.DefaultStore).Register(rt.HTTP.Mux)
	host, _ := os.Hostname()
	poller := NewPoller(cfg.Poll, stores, pub, checkpoints, host+"/"+uuid.NewString(), m, rt.Log)
	reload := func(ctx context.Context) error {
		return connection.WatchCommerce(ctx, creds, func(c connection.Commerce, deleted bool, err error) {
			switch {
			case err != nil:
				rt.Log.Error().Err(err).Msg("Commerce connection changed but cannot be read")
			case deleted:
				stores.Remove(c.Store)
				rt.Log.Info().Str("store", c.Store).Msg("store disconnected")
			default:
				if err := stores.Set(c); err != nil {
					rt.Log.Error().Err(err).Str("store", c.Store).Msg("store connection unusable")
					return
				}
				rt.Log.Info().Str("store", c.Store).Msg("store connection loaded")
			}
		})
	}
	return rt.Serve(ctx, reload, poller.Run)
}
