// Package transform is the transform service: it reads Commerce facts from
// COMMERCE (through pkg/commercefact), confirms and completes them through
// Commerce REST, maps them with pkg/mapping and the settings in
// mlc_settings and mlc_item_map, and publishes NetSuite commands on
// NETSUITE (DESIGN.md §4). A webhook order Commerce never commits becomes a
// phantom outcome on SYNC; a record that cannot be mapped waits a bounded
// time for its mapping, then goes to the DLQ with a reason.
package transform

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Name is the service's name: binary, logs, NATS connection.
const Name = "transform"

// ServiceSpec is what the service uses from JetStream.
func ServiceSpec() service.Spec {
	return service.Spec{Name: Name, Streams: []string{event.StreamCommerce, event.StreamNetSuite, event.StreamSync, event.StreamDLQ}, Buckets: []string{event.BucketSettings, event.BucketItemMap, event.BucketCredentials}}
}

// Config is the transform's environment.
type Config struct {
	service.Base
	// Concurrency is how many facts are handled at once.
	Concurrency int `env:"MLC_TRANSFORM_CONCURRENCY" envDefault:"32"`
	// ConfirmWindow: a webhook order not visible through Commerce REST this
	// long after ingest stored it is a phantom (adobe-commerce.md §3
	// suggests 15 minutes); ConfirmRetry is how often it is looked up.
	ConfirmWindow time.Duration `env:"MLC_TRANSFORM_CONFIRM_WINDOW" envDefault:"15m"`
	ConfirmRetry  time.Duration `env:"MLC_TRANSFORM_CONFIRM_RETRY" envDefault:"30s"`
	// UnmappedWait: an unmappable record (unknown SKU, no subsidiary, ...)
	// is retried every UnmappedRetry until this long after ingest stored
	// it, then dead-lettered.
	UnmappedWait  time.Duration `env:"MLC_TRANSFORM_UNMAPPED_WAIT" envDefault:"30m"`
	UnmappedRetry time.Duration `env:"MLC_TRANSFORM_UNMAPPED_RETRY" envDefault:"1m"`
	// RetryBase and RetryMax bound the backoff (full jitter) of a delivery
	// that failed for a transient reason (Commerce or JetStream down); a
	// wait above retries at its own pace or this backoff, whichever is longer.
	RetryBase time.Duration `env:"MLC_TRANSFORM_RETRY_BASE" envDefault:"1s"`
	RetryMax  time.Duration `env:"MLC_TRANSFORM_RETRY_MAX" envDefault:"5m"`
	// CommerceTimeout bounds the Commerce REST calls of one delivery (below
	// the consumer's 30 s ack wait).
	CommerceTimeout time.Duration `env:"MLC_TRANSFORM_COMMERCE_TIMEOUT" envDefault:"20s"`
}

// maxWaitRetries keeps a wait within the consumer's max_deliver (100 in
// streams/COMMERCE/transform.json), with room for transient failures.
const maxWaitRetries = 60

// Validate checks the settings.
func (c Config) Validate() error {
	if err := c.Base.Validate(); err != nil {
		return err
	}
	switch {
	case c.Concurrency < 1 || c.Concurrency > 1000:
		return fmt.Errorf("MLC_TRANSFORM_CONCURRENCY %d: want 1..1000 (the consumer's max_ack_pending is 1000)", c.Concurrency)
	case c.ConfirmWindow <= 0 || c.ConfirmRetry <= 0 || c.UnmappedWait <= 0 || c.UnmappedRetry <= 0 || c.CommerceTimeout <= 0 ||
		c.RetryBase <= 0 || c.RetryMax < c.RetryBase:
		return fmt.Errorf("MLC_TRANSFORM_CONFIRM_WINDOW, _CONFIRM_RETRY, _UNMAPPED_WAIT, _UNMAPPED_RETRY, _COMMERCE_TIMEOUT and _RETRY_BASE must be positive, _RETRY_MAX at least _RETRY_BASE")
	case c.ConfirmWindow/c.ConfirmRetry > maxWaitRetries:
		return fmt.Errorf("MLC_TRANSFORM_CONFIRM_WINDOW %v / MLC_TRANSFORM_CONFIRM_RETRY %v is over %d lookups", c.ConfirmWindow, c.ConfirmRetry, maxWaitRetries)
	case c.UnmappedWait/c.UnmappedRetry > maxWaitRetries:
		return fmt.Errorf("MLC_TRANSFORM_UNMAPPED_WAIT %v / MLC_TRANSFORM_UNMAPPED_RETRY %v is over %d retries", c.UnmappedWait, c.UnmappedRetry, maxWaitRetries)
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
		return fmt.Errorf("transform needs the master key to read the Commerce connections: %w", err)
	}
	rt, err := service.Start(ctx, ServiceSpec(), cfg.Base, logOut)
	if err != nil {
		return err
	}
	rt.Log.Info().Interface("config", service.Describe(cfg)).Msg("configured")
	bucket := func(name string) (jetstream.KeyValue, error) {
		kv, err := rt.JS.KeyValue(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", name, err)
		}
		return kv, nil
	}
	credKV, err := bucket(event.BucketCredentials)
	if err != nil {
		return err
	}
	settingsKV, err := bucket(event.BucketSettings)
	if err != nil {
		return err
	}
	itemsKV, err := bucket(event.BucketItemMap)
	if err != nil {
		return err
	}
	creds := secrets.NewStore(credKV, keys)
	// One idle connection per fact in flight: http.DefaultTransport keeps
	// two per host, so 32 concurrent confirmations would dial (and leave in
	// TIME_WAIT) a connection for almost every order.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Concurrency
	st := newState(rt.Log, &http.Client{Timeout: cfg.CommerceTimeout, Transport: tr})
	if err := st.loadSettings(ctx, settingsKV); err != nil {
		return fmt.Errorf("load mapping settings: %w", err)
	}
	conns, err := connection.ListCommerce(ctx, creds)
	if err != nil {
		return fmt.Errorf("load Commerce connections: %w", err)
	}
	for _, c := range conns {
		if err := st.setStore(c); err != nil {
			rt.Log.Error().Err(err).Str("store", c.Store).Msg("store connection unusable")
		}
	}
	m := newMetrics(rt.HTTP.Registry, func() float64 { return float64(st.itemCount.Load()) })
	rt.HTTP.AddCheck("item-map", func(context.Context) error {
		select {
		case <-st.itemsDone:
			return nil
		default:
			return fmt.Errorf("%s not loaded yet", event.BucketItemMap)
		}
	})
	h := &handler{st: st, pub: stream.NewPublisher(rt.JS), m: m, log: rt.Log, now: time.Now, waits: Waits{
		Confirm: cfg.ConfirmWindow, ConfirmRetry: cfg.ConfirmRetry, Unmapped: cfg.UnmappedWait,
		UnmappedRetry: cfg.UnmappedRetry, Call: cfg.CommerceTimeout,
	}}
	consume := func(ctx context.Context) error {
		// Facts mapped before the item map is in would wait for nothing.
		select {
		case <-st.itemsDone:
		case <-ctx.Done():
			return nil
		}
		rt.Log.Info().Int64("skus", st.itemCount.Load()).Msg("item map loaded; consuming")
		return stream.Consume(ctx, rt.JS, event.StreamCommerce, event.DurableTransform, h.handle,
			stream.WithConcurrency(cfg.Concurrency), stream.WithLogger(rt.Log), stream.WithBackoff(stream.FullJitter(cfg.RetryBase, cfg.RetryMax)))
	}
	watchStores := func(ctx context.Context) error {
		return connection.WatchCommerce(ctx, creds, func(c connection.Commerce, deleted bool, err error) {
			switch {
			case err != nil:
				rt.Log.Error().Err(err).Msg("Commerce connection changed but cannot be read")
			case deleted:
				st.removeStore(c.Store)
				rt.Log.Info().Str("store", c.Store).Msg("store disconnected")
			default:
				if err := st.setStore(c); err != nil {
					rt.Log.Error().Err(err).Str("store", c.Store).Msg("store connection unusable")
					return
				}
				rt.Log.Info().Str("store", c.Store).Msg("store connection loaded")
			}
		})
	}
	return rt.Serve(ctx,
		consume,
		func(ctx context.Context) error { return st.watchSettings(ctx, settingsKV) },
		func(ctx context.Context) error { return st.watchItems(ctx, itemsKV) },
		watchStores,
	)
}
