// Package writer is the netsuite-writer service: it executes NETSUITE
// commands against NetSuite exactly once in effect and records outcomes on
// SYNC (DESIGN.md §4). NetSuite's account concurrency limit is the scarce
// resource of the whole system: the durable consumer's max_ack_pending
// bounds the requests in flight across all replicas, and every replica's
// adaptive limiter (pkg/netsuite) keeps to it without 429 storms.
package writer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/retry"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Name is the service's name: binary, logs, NATS connection.
const Name = "netsuite-writer"

// ServiceSpec is what the service uses from JetStream.
func ServiceSpec() service.Spec {
	return service.Spec{Name: Name, Streams: []string{event.StreamNetSuite, event.StreamSync, event.StreamDLQ}, Buckets: []string{event.BucketCredentials, event.BucketSynced, event.BucketCustomerMap, event.BucketSettings}}
}

// Config is the writer's environment. What an operator tunes at run time
// (concurrency, headroom, invoice wait) is the "writer" settings document.
type Config struct {
	service.Base
	// In-process retries of one delivery (429, 5xx, timeouts, unknown
	// outcomes); then JetStream redelivers after RedeliverBase..Cap.
	RetryAttempts int           `env:"MLC_WRITER_RETRY_ATTEMPTS" envDefault:"4"`
	RetryBase     time.Duration `env:"MLC_WRITER_RETRY_BASE" envDefault:"1s"`
	RetryCap      time.Duration `env:"MLC_WRITER_RETRY_CAP" envDefault:"10s"`
	// RetryBudget bounds the waiting of one delivery's retries, below the
	// shutdown grace so a stopping writer is not held up.
	RetryBudget   time.Duration `env:"MLC_WRITER_RETRY_BUDGET" envDefault:"15s"`
	RedeliverBase time.Duration `env:"MLC_WRITER_REDELIVER_BASE" envDefault:"2s"`
	RedeliverCap  time.Duration `env:"MLC_WRITER_REDELIVER_CAP" envDefault:"60s"`
	// RequeueGap: an invoice waiting for its sales order is moved behind
	// the backlog at most this often, and held this long otherwise.
	RequeueGap time.Duration `env:"MLC_WRITER_REQUEUE_GAP" envDefault:"5s"`
	// Per-call NetSuite timeouts (NetSuite itself stops a request at 15 min).
	ReadTimeout  time.Duration `env:"MLC_NETSUITE_READ_TIMEOUT" envDefault:"60s"`
	WriteTimeout time.Duration `env:"MLC_NETSUITE_WRITE_TIMEOUT" envDefault:"120s"`
	// SlowThreshold is an answer slow enough to mean the account is
	// saturated: a 401 after a fresh token that slow (or after recent 429s)
	// is NetSuite's concurrency quirk, handled like a 429 (ref §11.2).
	SlowThreshold time.Duration `env:"MLC_NETSUITE_SLOW_THRESHOLD" envDefault:"30s"`
	// BudgetCheck is how often the writer makes sure its consumer still has
	// the budget as max_ack_pending (something else may have set another).
	BudgetCheck time.Duration `env:"MLC_WRITER_BUDGET_CHECK" envDefault:"30s"`
	// Instance names this replica in claims and logs (default host/uuid).
	Instance string `env:"MLC_INSTANCE"`
}

// Validate checks the settings.
func (c Config) Validate() error {
	if err := c.Base.Validate(); err != nil {
		return err
	}
	if c.BudgetCheck <= 0 {
		return errors.New("MLC_WRITER_BUDGET_CHECK must be positive")
	}
	if c.RetryAttempts < 1 || c.RetryBase <= 0 || c.RetryCap < c.RetryBase || c.RetryBudget < 0 {
		return errors.New("MLC_WRITER_RETRY_ATTEMPTS must be at least 1, MLC_WRITER_RETRY_BASE positive and not above MLC_WRITER_RETRY_CAP")
	}
	if c.RedeliverBase <= 0 || c.RedeliverCap < c.RedeliverBase {
		return errors.New("MLC_WRITER_REDELIVER_BASE must be positive and not above MLC_WRITER_REDELIVER_CAP")
	}
	if c.RequeueGap <= 0 || c.ReadTimeout <= 0 || c.WriteTimeout <= 0 || c.SlowThreshold <= 0 {
		return errors.New("MLC_WRITER_REQUEUE_GAP, the NetSuite timeouts and MLC_NETSUITE_SLOW_THRESHOLD must be positive")
	}
	return nil
}

// Run runs the writer until ctx is done.
func Run(ctx context.Context, environ map[string]string, logOut io.Writer) error {
	cfg, err := service.LoadConfig[Config](environ)
	if err != nil {
		return err
	}
	keys, err := secrets.LoadKeyring(func(k string) string { return environ[k] })
	if err != nil {
		return fmt.Errorf("%s needs the master key to read the NetSuite connection: %w", Name, err)
	}
	if cfg.Instance == "" {
		host, _ := os.Hostname()
		cfg.Instance = host + "/" + uuid.NewString()[:8]
	}
	rt, err := service.Start(ctx, ServiceSpec(), cfg.Base, logOut)
	if err != nil {
		return err
	}
	rt.Log.Info().Interface("config", service.Describe(cfg)).Msg("configured")
	kv := map[string]jetstream.KeyValue{}
	for _, b := range []string{event.BucketCredentials, event.BucketSynced, event.BucketCustomerMap, event.BucketSettings} {
		if kv[b], err = rt.JS.KeyValue(ctx, b); err != nil {
			return fmt.Errorf("bucket %s: %w", b, err)
		}
	}
	cons, err := rt.JS.Consumer(ctx, event.StreamNetSuite, event.DurableNetSuiteWriter)
	if err != nil {
		return fmt.Errorf("consumer %s/%s (run mlc streams apply): %w", event.StreamNetSuite, event.DurableNetSuiteWriter, err)
	}
	cc := cons.CachedInfo().Config
	s := &supervisor{
		cfg: cfg, js: rt.JS, log: rt.Log, creds: secrets.NewStore(kv[event.BucketCredentials], keys),
		settings: settings.New(kv[event.BucketSettings]), settingsKV: kv[event.BucketSettings],
		limiter: netsuite.NewLimiter(cc.MaxAckPending), set: *NewSettings(), changed: make(chan struct{}, 1),
	}
	s.m = NewMetrics(rt.HTTP.Registry, func() float64 { return float64(s.limiter.Limit()) }, func() float64 { return float64(s.limiter.InFlight()) })
	s.w = NewWriter(rt.JS, kv[event.BucketSynced], kv[event.BucketCustomerMap], s.m, rt.Log, Options{
		Retry:      retry.Policy{Base: cfg.RetryBase, Cap: cfg.RetryCap, MaxAttempts: cfg.RetryAttempts, Budget: cfg.RetryBudget},
		RequeueGap: cfg.RequeueGap, AckWait: cc.AckWait, MaxDeliver: cc.MaxDeliver, Owner: cfg.Instance,
	})
	s.w.OnConfigError(s.pause)
	// The budget is known before the first command: the watches below only
	// report keys that are set.
	if err := s.settings.Load(ctx, SettingsKey, &s.set); err != nil && !errors.Is(err, settings.ErrNotFound) {
		rt.Log.Error().Err(err).Msg("writer settings invalid; using the defaults")
		s.set = *NewSettings()
	}
	s.w.SetInvoiceWait(time.Duration(s.set.InvoiceWait))
	if ns, err := connection.LoadNetSuiteSettings(ctx, s.settingsKV); err == nil {
		s.account = &ns
	}
	s.applyBudget(ctx)
	rt.HTTP.AddCheck("netsuite", s.ready)
	return rt.Serve(ctx, s.watchConnection, s.watchSettings, s.watchAccount, s.holdBudget, s.consume)
}

// supervisor keeps the writer's client, budget and consumption in step with
// the stored connection and settings.
type supervisor struct {
	cfg        Config
	js         jetstream.JetStream
	log        zerolog.Logger
	creds      *secrets.Store
	settings   *settings.Store
	settingsKV jetstream.KeyValue
	limiter    *netsuite.Limiter
	m          *Metrics
	w          *Writer

	mu       sync.Mutex
	client   *netsuite.Client
	paused   error // the credentials were refused; cleared by a new connection or a good token
	gov      *netsuite.GovernanceLimits
	govTried bool // governanceLimits was asked for the current client
	account  *connection.NetSuiteSettings
	set      Settings
	budget   Budget
	stop     context.CancelFunc // stops the running consume loop
	changed  chan struct{}      // something the consume loop waits on changed
}

func (s *supervisor) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// ready is the "netsuite" readiness check.
func (s *supervisor) ready(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.client == nil:
		return ErrNotConnected
	case s.paused != nil:
		return fmt.Errorf("paused: NetSuite refuses the credentials: %w", s.paused)
	}
	return nil
}

// watchConnection builds a client for every stored NetSuite connection.
func (s *supervisor) watchConnection(ctx context.Context) error {
	return connection.WatchNetSuite(ctx, s.creds, func(n connection.NetSuite, deleted bool, err error) {
		switch {
		case err != nil:
			s.log.Error().Err(err).Msg("NetSuite connection changed but cannot be read; keeping the previous one")
			return
		case deleted:
			s.setClient(ctx, nil)
			s.log.Warn().Msg("NetSuite connection deleted: the writer stops until mlc connect netsuite")
			return
		}
		c, err := n.Client(netsuite.WithHTTPClient(newHTTPClient(s.m)), netsuite.WithLimiter(s.limiter),
			netsuite.WithTimeouts(s.cfg.ReadTimeout, s.cfg.WriteTimeout), netsuite.WithSlowThreshold(s.cfg.SlowThreshold))
		if err != nil {
			s.log.Error().Err(err).Msg("NetSuite connection unusable")
			return
		}
		s.log.Info().Str("account", n.AccountID).Str("base_url", c.BaseURL()).Msg("NetSuite connection loaded")
		s.setClient(ctx, c)
	})
}

func (s *supervisor) setClient(ctx context.Context, c *netsuite.Client) {
	s.mu.Lock()
	s.client, s.paused, s.gov, s.govTried = c, nil, nil, false
	s.mu.Unlock()
	s.w.SetClient(c)
	s.discover(ctx)
	s.applyBudget(ctx)
	s.signal()
	if c == nil {
		s.pauseConsumer()
	}
}

// discover reads governanceLimits once per client, and only when the
// budget is derived from the account's limit: the read is a request
// outside the budget (another replica may be using all of it), which the
// headroom of a derived budget leaves room for. It needs an administrator
// role; the integration's usually is not (403): the settings or the
// default decide then.
func (s *supervisor) discover(ctx context.Context) {
	s.mu.Lock()
	c, need := s.client, !s.govTried && s.set.Concurrency == 0 && s.set.AccountLimit == 0
	if c == nil || !need {
		s.mu.Unlock()
		return
	}
	s.govTried = true
	s.mu.Unlock()
	gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	g, err := c.GovernanceLimits(gctx)
	cancel()
	if err != nil {
		s.log.Info().Err(err).Msg("governanceLimits not readable; the concurrency budget comes from the settings")
		return
	}
	s.mu.Lock()
	if s.client == c {
		s.gov = &g
	}
	s.mu.Unlock()
}

// watchSettings follows the "writer" document.
func (s *supervisor) watchSettings(ctx context.Context) error {
	return settings.Watch(ctx, s.settings, SettingsKey, NewSettings, func(doc *Settings, deleted bool, err error) {
		if err != nil {
			s.log.Error().Err(err).Msg("writer settings invalid; keeping the previous ones")
			return
		}
		s.mu.Lock()
		s.set = *doc
		s.mu.Unlock()
		s.w.SetInvoiceWait(time.Duration(doc.InvoiceWait))
		s.discover(ctx)
		s.applyBudget(ctx)
	})
}

// watchAccount follows netsuite.subsidiaries for the account limit `mlc
// connect` stored.
func (s *supervisor) watchAccount(ctx context.Context) error {
	return connection.WatchNetSuiteSettings(ctx, s.settingsKV, func(ns connection.NetSuiteSettings, deleted bool, err error) {
		if err != nil {
			s.log.Error().Err(err).Msg("netsuite.subsidiaries unreadable; keeping the previous account limit")
			return
		}
		s.mu.Lock()
		if deleted {
			s.account = nil
		} else {
			s.account = &ns
		}
		s.mu.Unlock()
		s.applyBudget(ctx)
	})
}

// applyBudget recomputes the concurrency budget and, when it changed,
// resizes the limiter and sets the consumer's max_ack_pending: the bound
// that holds across replicas.
func (s *supervisor) applyBudget(ctx context.Context) {
	s.mu.Lock()
	b := ComputeBudget(s.set, s.gov, s.account)
	same := b == s.budget
	s.budget = b
	s.mu.Unlock()
	if same {
		return
	}
	s.limiter.SetMax(b.N)
	s.m.Budget.Set(float64(b.N))
	uctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := SetMaxAckPending(uctx, s.js, b.N); err != nil {
		s.log.Warn().Err(err).Int("budget", b.N).Msg("max_ack_pending not updated: the consumer keeps its value; " +
			"set it with mlc streams apply or nats consumer edit NETSUITE netsuite-writer --max-pending, or give this user $JS.API.CONSUMER.CREATE.NETSUITE.netsuite-writer.>")
		return
	}
	s.log.Info().Int("budget", b.N).Str("from", b.Source).Msg("NetSuite concurrency budget")
}

// holdBudget puts the budget back on the consumer when something else set
// another max_ack_pending (an operator's `nats consumer edit`, an older
// `mlc streams apply`): applyBudget only writes it when the budget changes.
func (s *supervisor) holdBudget(ctx context.Context) error {
	t := time.NewTicker(s.cfg.BudgetCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.mu.Lock()
		n := s.budget.N
		s.mu.Unlock()
		if n < 1 {
			continue
		}
		uctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := SetMaxAckPending(uctx, s.js, n); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Int("budget", n).Msg("max_ack_pending not checked")
		}
		cancel()
	}
}

// SetMaxAckPending sets the writer consumer's max_ack_pending to n.
func SetMaxAckPending(ctx context.Context, js jetstream.JetStream, n int) error {
	cons, err := js.Consumer(ctx, event.StreamNetSuite, event.DurableNetSuiteWriter)
	if err != nil {
		return err
	}
	cfg := cons.CachedInfo().Config
	if cfg.MaxAckPending == n {
		return nil
	}
	cfg.MaxAckPending = n
	if _, err := js.UpdateConsumer(ctx, event.StreamNetSuite, cfg); err != nil {
		return fmt.Errorf("update %s/%s max_ack_pending %d: %w", event.StreamNetSuite, event.DurableNetSuiteWriter, n, err)
	}
	return nil
}

// pause stops consuming after NetSuite refused the credentials: retrying
// every command would only spin and fill the DLQ. A new connection or a
// token obtained by the probe resumes.
func (s *supervisor) pause(err error) {
	s.mu.Lock()
	first := s.paused == nil
	s.paused = err
	s.mu.Unlock()
	if first {
		s.log.Error().Err(err).Msg("NetSuite refuses the credentials: consumption paused until the connection is fixed")
		s.pauseConsumer()
	}
}

func (s *supervisor) pauseConsumer() {
	s.mu.Lock()
	stop := s.stop
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// consume runs the consume loop whenever the writer can work.
func (s *supervisor) consume(ctx context.Context) error {
	probe := time.NewTicker(30 * time.Second)
	defer probe.Stop()
	for ctx.Err() == nil {
		if err := s.ready(ctx); err != nil {
			select {
			case <-ctx.Done():
			case <-s.changed:
			case <-probe.C:
				s.probe(ctx)
			}
			continue
		}
		cctx, cancel := context.WithCancel(ctx)
		s.mu.Lock()
		s.stop = cancel
		s.mu.Unlock()
		err := stream.Consume(cctx, s.js, event.StreamNetSuite, event.DurableNetSuiteWriter, s.w.Handle,
			stream.WithConcurrency(maxConcurrency), stream.WithBackoff(stream.FullJitter(s.cfg.RedeliverBase, s.cfg.RedeliverCap)),
			stream.WithLogger(s.log))
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("consume loop stopped; restarting")
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// probe asks for a token while paused; success resumes.
func (s *supervisor) probe(ctx context.Context) {
	s.mu.Lock()
	c, paused := s.client, s.paused
	s.mu.Unlock()
	if c == nil || paused == nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.Token(pctx); err != nil {
		return
	}
	s.mu.Lock()
	s.paused = nil
	s.mu.Unlock()
	s.log.Info().Msg("NetSuite accepts the credentials again: consumption resumed")
}
