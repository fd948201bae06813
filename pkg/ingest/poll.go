package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/lease"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// PollConfig is the backfill poll's schedule.
type PollConfig struct {
	Enabled  bool          `env:"MLC_POLL_ENABLED" envDefault:"true"`
	Interval time.Duration `env:"MLC_POLL_INTERVAL" envDefault:"1m"`
	// Lookback re-reads records updated shortly before the cursor: orders
	// whose transaction committed late, and any event lost after its ack
	// (longer than JetStream's default 2-minute sync interval; DESIGN §4).
	Lookback time.Duration `env:"MLC_POLL_LOOKBACK" envDefault:"10m"`
	// Settle keeps the poll this far behind now, so a record still being
	// written is not skipped by the cursor.
	Settle   time.Duration `env:"MLC_POLL_SETTLE" envDefault:"5s"`
	Start    string        `env:"MLC_POLL_START"` // first run: RFC 3339 or YYYY-MM-DD; default now - lookback
	PageSize int           `env:"MLC_POLL_PAGE_SIZE" envDefault:"100"`
}

// Validate checks the schedule.
func (c PollConfig) Validate() error {
	if c.Interval <= 0 || c.Lookback < 0 || c.Settle < 0 || c.PageSize <= 0 || c.PageSize > commerce.MaxPageSize {
		return fmt.Errorf("poll: interval %v, lookback %v, settle %v, page size %d: want interval > 0, page size 1..%d",
			c.Interval, c.Lookback, c.Settle, c.PageSize, commerce.MaxPageSize)
	}
	if _, err := c.startTime(time.Now()); err != nil {
		return err
	}
	return nil
}

func (c PollConfig) startTime(now time.Time) (time.Time, error) {
	if c.Start == "" {
		// Commerce timestamps have whole seconds; so must the cursor.
		return now.Add(-c.Lookback).UTC().Truncate(time.Second), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, c.Start); err == nil {
			return t.UTC().Truncate(time.Second), nil
		}
	}
	return time.Time{}, fmt.Errorf("MLC_POLL_START %q: want RFC 3339 or YYYY-MM-DD", c.Start)
}

// Poller is the backfill poll: one active replica (a lease) reads orders and
// paid invoices updated since its cursor minus the lookback, and publishes
// them with the ids a webhook would have used, so an order seen both ways is
// stored once and an order whose webhook never came is stored anyway.
type Poller struct {
	cfg    PollConfig
	stores *Stores
	pub    *stream.Publisher
	kv     jetstream.KeyValue
	lease  *lease.Lease
	m      *Metrics
	log    zerolog.Logger
	now    func() time.Time
}

// NewPoller builds a poller keeping cursors and its lease in kv (mlc_checkpoints).
func NewPoller(cfg PollConfig, stores *Stores, pub *stream.Publisher, kv jetstream.KeyValue, holder string, m *Metrics, log zerolog.Logger) *Poller {
	ttl := max(3*cfg.Interval, 30*time.Second)
	return &Poller{cfg: cfg, stores: stores, pub: pub, kv: kv, lease: lease.New(kv, "lease.ingest-poll", holder, ttl), m: m, log: log, now: time.Now}
}

// Run polls now and then every interval until ctx is done.
func (p *Poller) Run(ctx context.Context) error {
	if !p.cfg.Enabled {
		<-ctx.Done()
		return nil
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = p.lease.Release(rctx)
	}()
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		held, err := p.lease.Acquire(ctx)
		switch {
		case err != nil:
			p.log.Warn().Err(err).Msg("poll lease")
		case held:
			start := time.Now()
			err := p.RunOnce(ctx)
			p.m.PollDuration.Observe(time.Since(start).Seconds())
			if err != nil && ctx.Err() == nil {
				p.m.PollRuns.WithLabelValues("error").Inc()
				p.log.Warn().Err(err).Msg("backfill poll failed; next interval retries from the last cursor")
			} else {
				p.m.PollRuns.WithLabelValues("ok").Inc()
			}
		default:
			p.m.PollRuns.WithLabelValues("standby").Inc()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce polls every connected store once. Commerce lists the orders of
// every store whatever store code the URL names, so each store's poll is
// filtered on its numeric store_id; a store whose id is unknown is skipped
// rather than risk filing another store's orders under its code.
func (p *Poller) RunOnce(ctx context.Context) error {
	var errs []error
	if err := p.stores.ResolveIDs(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, st := range p.stores.All() {
		if st.ID == 0 {
			errs = append(errs, fmt.Errorf("store %s: numeric store id unknown, not polled", st.Code))
			continue
		}
		if err := p.pollOrders(ctx, st); err != nil {
			errs = append(errs, fmt.Errorf("store %s orders: %w", st.Code, err))
		}
		if err := p.pollInvoices(ctx, st); err != nil {
			errs = append(errs, fmt.Errorf("store %s invoices: %w", st.Code, err))
		}
	}
	return errors.Join(errs...)
}

func cursorKey(kind, store string) string {
	return "cursor." + kind + "." + event.EncodeIDPart(store)
}

// loadCursor returns where to start reading: the stored cursor minus the
// lookback, or the configured start on a first run.
func (p *Poller) loadCursor(ctx context.Context, key string) (saved commerce.Cursor, from commerce.Cursor, err error) {
	e, err := p.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		start, err := p.cfg.startTime(p.now())
		return commerce.Cursor{}, commerce.Cursor{UpdatedAt: start}, err
	}
	if err != nil {
		return saved, from, err
	}
	if err := json.Unmarshal(e.Value(), &saved); err != nil {
		return saved, from, fmt.Errorf("cursor %s: %w", key, err)
	}
	return saved, saved.Rewind(p.cfg.Lookback), nil
}

// advance stores next as the cursor if it is past saved (a rewound run
// re-reads old pages without moving the cursor back).
func (p *Poller) advance(ctx context.Context, key string, saved *commerce.Cursor, next commerce.Cursor) error {
	if !next.UpdatedAt.After(saved.UpdatedAt) && !(next.UpdatedAt.Equal(saved.UpdatedAt) && next.EntityID > saved.EntityID) {
		return nil
	}
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if _, err := p.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("save cursor %s: %w", key, err)
	}
	*saved = next
	return nil
}

func (p *Poller) pollOrders(ctx context.Context, st Store) error {
	key := cursorKey("orders", st.Code)
	saved, from, err := p.loadCursor(ctx, key)
	if err != nil {
		return err
	}
	firstRun := saved.UpdatedAt.IsZero()
	opt := p.pollOptions(st)
	_, err = st.Client.PollOrdersRaw(ctx, from, opt, func(ctx context.Context, page []commerce.Raw[commerce.Order], next commerce.Cursor) error {
		for _, o := range page {
			// Every status change bumps updated_at, so the poll sees an
			// order again and again; only the first sighting is "placed".
			// An order created before this run's window was covered by an
			// earlier run (its creation was an update then).
			if !firstRun && o.Value.CreatedAt.Before(from.UpdatedAt) {
				p.m.Ignored.WithLabelValues("order-seen-before").Inc()
				continue
			}
			f := event.CommerceFact{Kind: event.OrderPlaced, Store: st.Code, ID: o.Value.IncrementID,
				DataSchema: event.SchemaRESTOrder, Raw: o.Bytes}
			if err := p.publish(ctx, f, "order"); err != nil {
				return err
			}
		}
		return p.advance(ctx, key, &saved, next)
	})
	if err == nil && firstRun {
		// Nothing found yet: keep the start, or the next run's "now minus
		// lookback" would slide past orders placed in between.
		err = p.advance(ctx, key, &saved, from)
	}
	if !saved.UpdatedAt.IsZero() {
		p.m.PollLag.WithLabelValues(st.Code, "order").Set(p.now().Sub(saved.UpdatedAt).Seconds())
	}
	return err
}

func (p *Poller) pollInvoices(ctx context.Context, st Store) error {
	key := cursorKey("invoices", st.Code)
	saved, from, err := p.loadCursor(ctx, key)
	if err != nil {
		return err
	}
	firstRun := saved.UpdatedAt.IsZero()
	opt := p.pollOptions(st)
	_, err = st.Client.PollInvoicesRaw(ctx, from, opt, func(ctx context.Context, page []commerce.Raw[commerce.Invoice], next commerce.Cursor) error {
		for _, inv := range page {
			if !inv.Value.Captured() {
				continue
			}
			f := event.CommerceFact{Kind: event.InvoiceCaptured, Store: st.Code, ID: inv.Value.IncrementID,
				DataSchema: event.SchemaRESTInvoice, Raw: inv.Bytes}
			if err := p.publish(ctx, f, "invoice"); err != nil {
				return err
			}
		}
		return p.advance(ctx, key, &saved, next)
	})
	if err == nil && firstRun {
		err = p.advance(ctx, key, &saved, from)
	}
	if !saved.UpdatedAt.IsZero() {
		p.m.PollLag.WithLabelValues(st.Code, "invoice").Set(p.now().Sub(saved.UpdatedAt).Seconds())
	}
	return err
}

func (p *Poller) pollOptions(st Store) commerce.PollOptions {
	return commerce.PollOptions{
		PageSize: p.cfg.PageSize,
		Until:    p.now().Add(-p.cfg.Settle),
		Where:    [][]commerce.Filter{{commerce.F("store_id", commerce.CondEq, strconv.FormatInt(st.ID, 10))}},
	}
}

func (p *Poller) publish(ctx context.Context, f event.CommerceFact, kind string) error {
	if f.ID == "" {
		p.log.Warn().Str("store", f.Store).Str("kind", kind).Msg("record without increment_id skipped")
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := p.pub.Publish(pctx, f, stream.WithOrigin(event.OriginPoll))
	if err != nil {
		return err
	}
	if res.Duplicate {
		p.m.Duplicates.WithLabelValues(event.OriginPoll).Inc()
		return nil
	}
	p.m.PollOnly.WithLabelValues(f.Store, kind).Inc()
	p.log.Info().Str("key", f.Key()).Msg("found by the backfill poll only")
	return nil
}
