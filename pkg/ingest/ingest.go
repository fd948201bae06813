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

	"github.com/ml-connector/ml-connector/pkg/commerce"
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
	DefaultStore string `env:"MLC_COMMERCE_STORE" envDefault:"default"`
	// MaxBody caps webhook bodies (413 above). 0 derives it from what NATS
	// stores: the server's max_payload (and COMMERCE's max_msg_size) less
	// envelopeReserve. A larger explicit value is refused at start, since
	// such a body could never be stored.
	MaxBody    int64         `env:"MLC_INGEST_MAX_BODY" envDefault:"0"`
	AckTimeout time.Duration `env:"MLC_INGEST_ACK_TIMEOUT" envDefault:"1s"`
	// AllowUnverified accepts unsigned webhooks of stores connected with
	// verification mode none. Local development only; off, their webhooks
	// are refused (the poll still reads them).
	AllowUnverified bool `env:"MLC_INGEST_ALLOW_UNVERIFIED" envDefault:"false"`
	Poll            PollConfig
}

// Validate checks the settings.
func (c Config) Validate() error {
	if err := c.Base.Validate(); err != nil {
		return err
	}
	if c.MaxBody < 0 || c.AckTimeout <= 0 {
		return fmt.Errorf("MLC_INGEST_MAX_BODY must not be negative and MLC_INGEST_ACK_TIMEOUT must be positive")
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
	maxBody, storable, err := bodyLimit(ctx, rt, cfg.MaxBody)
	if err != nil {
		rt.NC.Close()
		return err
	}
	rt.Log.Info().Int64("body_limit", maxBody).Int64("nats_storable", storable).Msg("webhook body limit")
	credKV, err := rt.JS.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		return err
	}
	checkpoints, err := rt.JS.KeyValue(ctx, event.BucketCheckpoints)
	if err != nil {
		return err
	}
	creds := secrets.NewStore(credKV, keys)
	if cfg.AllowUnverified {
		rt.Log.Warn().Msg("MLC_INGEST_ALLOW_UNVERIFIED=true: webhooks of stores connected with verification none are " +
			"accepted UNVERIFIED from anyone who can reach this port. Local development only.")
	}
	stores := NewStores(nil, AllowUnverified(cfg.AllowUnverified))
	conns, err := connection.ListCommerce(ctx, creds)
	if err != nil {
		return fmt.Errorf("load Commerce connections: %w", err)
	}
	for _, c := range conns {
		if err := stores.Set(c); err != nil {
			rt.Log.Error().Err(err).Str("store", c.Store).Msg("store connection unusable")
		}
		warnUnverified(rt, c, cfg.AllowUnverified)
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
	m.BodyLimit.Set(float64(maxBody))
	pub := stream.NewPublisher(rt.JS)
	hooks := NewWebhooks(stores, pub, m, rt.Log, maxBody, cfg.AckTimeout, cfg.DefaultStore)
	rt.HTTP.ServeWith(newServer(hooks.Handler(rt.HTTP.Mux), rt.HTTP.Limits(), rt.Log))
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
				warnUnverified(rt, c, cfg.AllowUnverified)
			}
		})
	}
	return rt.Serve(ctx, reload, poller.Run)
}

// envelopeReserve is what a fact's envelope and headers add to its body:
// the CloudEvents attributes (id, type, source and subject with the store
// and the increment_id, which the external id limit bounds) and the
// Nats-Msg-Id, Mlc-* and traceparent headers. Under 1 KiB in practice.
const envelopeReserve = 4096

// bodyLimit is the webhook body limit: configured, or (0) the most NATS can
// store less envelopeReserve. storable is the smaller of the server's
// max_payload and COMMERCE's max_msg_size.
func bodyLimit(ctx context.Context, rt *service.Runtime, configured int64) (limit, storable int64, err error) {
	storable = rt.NC.MaxPayload()
	if storable <= 0 {
		storable = 1 << 20 // not connected yet: the server default
	}
	s, err := rt.JS.Stream(ctx, event.StreamCommerce)
	if err != nil {
		return 0, 0, fmt.Errorf("stream %s: %w", event.StreamCommerce, err)
	}
	if max := int64(s.CachedInfo().Config.MaxMsgSize); max > 0 && max < storable {
		storable = max
	}
	ceiling := storable - envelopeReserve
	switch {
	case ceiling <= 0:
		return 0, storable, fmt.Errorf("NATS stores at most %d bytes per message (max_payload, %s max_msg_size): too little for a webhook", storable, event.StreamCommerce)
	case configured == 0:
		return ceiling, storable, nil
	case configured > ceiling:
		return 0, storable, fmt.Errorf("MLC_INGEST_MAX_BODY %d is over what NATS can store: %d bytes (the smaller of the server's max_payload "+
			"and %s max_msg_size) less %d for the envelope; lower it, leave it unset, or raise max_payload", configured, storable, event.StreamCommerce, envelopeReserve)
	}
	return configured, storable, nil
}

// warnUnverified says, for a store connected with verification none,
// whether its webhooks are accepted unverified or refused.
func warnUnverified(rt *service.Runtime, c connection.Commerce, allowed bool) {
	if c.Webhook.Mode != commerce.VerifyNone {
		return
	}
	if allowed {
		rt.Log.Warn().Str("store", c.Store).Msg("store webhooks are accepted UNVERIFIED (verification mode none)")
		return
	}
	rt.Log.Error().Str("store", c.Store).Err(ErrUnverifiedRefused).Msg("store webhooks refused; the poll still reads the store")
}
