package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/lease"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/stock"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// runLeaseKey is the mlc_checkpoints key of the run lease: one run at a
// time across the service's replicas and `mlc sync inventory`.
const runLeaseKey = "lease.inventory-run"

// ErrNoStores: no Commerce store to sync (none connected, or every one
// asked for is disabled).
var ErrNoStores = errors.New("inventory: no Commerce store to sync")

// Publisher is the NetSuite side: it reads items, prices and stock, diffs
// them against the snapshot and publishes one INVENTORY change per SKU and
// store whose price or stock changed, then records the new snapshot.
type Publisher struct {
	js          jetstream.JetStream
	pub         *stream.Publisher
	creds       *secrets.Store
	settings    *settings.Store
	snap        *Snapshot
	items       *itemMap
	lease       *lease.Lease
	leaseTTL    time.Duration
	holder      string
	checkpoints jetstream.KeyValue
	m           *Metrics
	log         zerolog.Logger
	pageSize    int
	workers     int
	now         func() time.Time

	nsMu  sync.Mutex
	nsKey string
	ns    *netsuite.Client
}

// Option configures a Publisher.
type Option func(*Publisher)

// WithPageSize sets the SuiteQL page size (1..1000, default 1000).
func WithPageSize(n int) Option { return func(p *Publisher) { p.pageSize = n } }

// WithWorkers sets how many changes are published at once (default 32).
func WithWorkers(n int) Option { return func(p *Publisher) { p.workers = n } }

// WithLogger sets the logger.
func WithLogger(l zerolog.Logger) Option { return func(p *Publisher) { p.log = l } }

// WithMetrics records into m (default: a private registry).
func WithMetrics(m *Metrics) Option { return func(p *Publisher) { p.m = m } }

// WithHolder names this process in the run lease (default a random id).
func WithHolder(h string) Option {
	return func(p *Publisher) { p.holder = h }
}

// NewPublisher opens the buckets it needs on js (mlc_settings,
// mlc_inventory, mlc_item_map, mlc_checkpoints); creds is the decrypted
// credential store with the NetSuite and Commerce connections.
func NewPublisher(ctx context.Context, js jetstream.JetStream, creds *secrets.Store, opts ...Option) (*Publisher, error) {
	p := &Publisher{js: js, pub: stream.NewPublisher(js), creds: creds, log: zerolog.Nop(), pageSize: netsuite.MaxPageSize,
		workers: 32, now: time.Now, leaseTTL: 60 * time.Second, holder: uuid.NewString()}
	for _, o := range opts {
		o(p)
	}
	if p.pageSize < 1 || p.pageSize > netsuite.MaxPageSize {
		return nil, fmt.Errorf("inventory: page size %d outside 1..%d", p.pageSize, netsuite.MaxPageSize)
	}
	if p.workers < 1 {
		p.workers = 1
	}
	if p.m == nil {
		p.m = NewMetrics(prometheus.NewRegistry())
	}
	open := func(name string) (jetstream.KeyValue, error) {
		kv, err := js.KeyValue(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("inventory: bucket %s: %w", name, err)
		}
		return kv, nil
	}
	setKV, err := open(event.BucketSettings)
	if err != nil {
		return nil, err
	}
	snapKV, err := open(event.BucketInventory)
	if err != nil {
		return nil, err
	}
	itemKV, err := open(event.BucketItemMap)
	if err != nil {
		return nil, err
	}
	cpKV, err := open(event.BucketCheckpoints)
	if err != nil {
		return nil, err
	}
	p.settings = settings.New(setKV)
	p.snap = NewSnapshot(snapKV)
	p.items = newItemMap(itemKV, p.workers)
	p.lease = lease.New(cpKV, runLeaseKey, p.holder, p.leaseTTL)
	p.checkpoints = cpKV
	return p, nil
}

// RunOptions choose what one run does.
type RunOptions struct {
	// Stores limits the run to these store codes (default: every connected
	// store not disabled in the settings).
	Stores []string
	// SKUs limits the run to these SKUs (default: the whole catalogue).
	SKUs []string
	// Origin is the Mlc-Origin of the published changes (event.OriginSchedule,
	// event.OriginManual).
	Origin string
	// Full publishes every SKU's price and stock, changed or not (after a
	// product was created in Commerce, or to repair a catalogue).
	Full bool
	// Progress, when set, is told how far the run is.
	Progress func(Progress)
}

// Progress is a run's position: Phase "read" (NetSuite item rows: Done of
// Total) or "publish" (changes of Store: Done of Total).
type Progress struct {
	Phase string
	Store string
	Done  int
	Total int
}

// Summary is what a run did.
type Summary struct {
	Origin   string          `json:"origin"`
	Started  time.Time       `json:"started"`
	Duration time.Duration   `json:"duration_ns"`
	Items    int             `json:"items_read"`
	SKUs     int             `json:"skus"`
	Pages    PageCounts      `json:"suiteql_pages"`
	ItemMap  ItemMapCounts   `json:"item_map"`
	Problems []stock.Problem `json:"problems,omitempty"`
	Stores   []StoreSummary  `json:"stores"`
}

// StoreSummary is one store's part of a run.
type StoreSummary struct {
	Store        string `json:"store"`
	Active       int    `json:"active_skus"`
	PriceChanges int    `json:"price_changes"`
	StockChanges int    `json:"stock_changes"`
	Gone         int    `json:"gone"`
	Published    int    `json:"published"`
	Duplicates   int    `json:"duplicates"`
}

// Run waits for the run lease (another run of any replica or CLI finishes
// first), runs once and releases it.
func (p *Publisher) Run(ctx context.Context, opts RunOptions) (*Summary, error) {
	for {
		held, err := p.lease.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("inventory: run lease: %w", err)
		}
		if held {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("inventory: waiting for the run another replica holds: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	return p.runHeld(ctx, opts)
}

// runHeld runs with the lease held, renewing it meanwhile, and releases it.
func (p *Publisher) runHeld(ctx context.Context, opts RunOptions) (*Summary, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(p.leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if held, err := p.lease.Acquire(rctx); err == nil && !held {
					cancel(errors.New("inventory: run lease lost to another replica"))
					return
				}
			}
		}
	}()
	start := p.now()
	sum, err := p.run(rctx, opts)
	cancel(nil)
	<-renewed
	relCtx, relCancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	_ = p.lease.Release(relCtx)
	relCancel()
	p.m.RunSeconds.Observe(p.now().Sub(start).Seconds())
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if cause := context.Cause(rctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = fmt.Errorf("%w (%v)", err, cause)
		}
	}
	p.m.Runs.WithLabelValues(opts.Origin, outcome).Inc()
	return sum, err
}

// storeRun is one store's work in a run.
type storeRun struct {
	cfg      StoreConfig
	key      PriceKey
	currency string // ISO code for the events
}

func (p *Publisher) loadSettings(ctx context.Context) (*Settings, error) {
	cfg := DefaultSettings()
	if err := p.settings.Load(ctx, SettingsKey, cfg); err != nil && !errors.Is(err, settings.ErrNotFound) {
		return nil, err
	}
	return cfg, nil
}

// stores picks the stores of a run: connected, not disabled, and among
// those asked for.
func (p *Publisher) stores(ctx context.Context, cfg *Settings, want []string) ([]StoreConfig, error) {
	conns, err := connection.ListCommerce(ctx, p.creds)
	if err != nil {
		return nil, fmt.Errorf("inventory: Commerce connections: %w", err)
	}
	connected := map[string]bool{}
	for _, c := range conns {
		connected[c.Store] = true
	}
	var out []StoreConfig
	if len(want) == 0 {
		for code := range connected {
			if sc := cfg.For(code); !sc.Disabled {
				out = append(out, sc)
			}
		}
	} else {
		for _, code := range want {
			if !connected[code] {
				return nil, fmt.Errorf("inventory: store %q is not connected (run `mlc connect commerce`)", code)
			}
			sc := cfg.For(code)
			if sc.Disabled {
				return nil, fmt.Errorf("inventory: store %q is disabled in the %q settings", code, SettingsKey)
			}
			if !slices.ContainsFunc(out, func(o StoreConfig) bool { return o.Store == code }) {
				out = append(out, sc)
			}
		}
	}
	if len(out) == 0 {
		return nil, ErrNoStores
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Store < out[j].Store })
	return out, nil
}

// netsuiteClient builds the client from the stored connection, reusing it
// (and its token) while the connection is unchanged.
func (p *Publisher) netsuiteClient(ctx context.Context) (*netsuite.Client, error) {
	n, err := connection.LoadNetSuite(ctx, p.creds)
	if err != nil {
		return nil, err
	}
	limit := 0
	if setKV, err := p.js.KeyValue(ctx, event.BucketSettings); err == nil {
		if ns, err := connection.LoadNetSuiteSettings(ctx, setKV); err == nil {
			limit = ns.ConcurrencyLimit
		}
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%s|%s|%s|%s|%v|%d", n.AccountID, n.ClientID, n.CertificateID, n.PrivateKeyPEM, n.BaseURL, n.Algorithm, n.Scopes, limit))
	key := hex.EncodeToString(sum[:])
	p.nsMu.Lock()
	defer p.nsMu.Unlock()
	if p.ns != nil && p.nsKey == key {
		return p.ns, nil
	}
	c, err := n.Client(netsuite.WithLimiter(netsuite.NewLimiter(netsuite.ConcurrencyFor(limit, nil))))
	if err != nil {
		return nil, err
	}
	p.ns, p.nsKey = c, key
	return c, nil
}

// resolveCurrency takes a currency setting (ISO code or internal id) to
// NetSuite's id and the code the events carry.
func resolveCurrency(setting string, table map[string]string) (id, code string, err error) {
	if sym, ok := table[setting]; ok {
		return setting, sym, nil
	}
	ids := make([]string, 0, len(table))
	for id := range table {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if strings.EqualFold(table[id], setting) {
			return id, table[id], nil
		}
	}
	return "", "", fmt.Errorf("inventory: currency %q is neither a NetSuite currency id nor a symbol (have %v)", setting, table)
}

// job is one SKU's change in one store.
type job struct {
	store  string
	sku    string
	prev   Entry
	known  bool
	cur    stock.State
	change stock.Change
}

func (p *Publisher) run(ctx context.Context, opts RunOptions) (*Summary, error) {
	started := p.now()
	sum := &Summary{Origin: opts.Origin, Started: started}
	cfg, err := p.loadSettings(ctx)
	if err != nil {
		return nil, err
	}
	stores, err := p.stores(ctx, cfg, opts.Stores)
	if err != nil {
		return nil, err
	}
	ns, err := p.netsuiteClient(ctx)
	if err != nil {
		return nil, err
	}
	var total, done atomic.Int64
	rd := &reader{ns: ns, pageSize: p.pageSize}
	if opts.Progress != nil {
		rd.total = func(n int) { total.Store(int64(n)); opts.Progress(Progress{Phase: "read", Total: n}) }
		rd.row = func() {
			if d := done.Add(1); d%int64(p.pageSize) == 0 || d == total.Load() {
				opts.Progress(Progress{Phase: "read", Done: int(d), Total: int(total.Load())})
			}
		}
	}
	currencies, err := rd.Currencies(ctx, &sum.Pages.Other)
	if err != nil {
		return nil, fmt.Errorf("inventory: read currencies: %w", err)
	}
	runs := make([]storeRun, len(stores))
	var keys []PriceKey
	for i, sc := range stores {
		id, code, err := resolveCurrency(sc.Currency, currencies)
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", sc.Store, err)
		}
		runs[i] = storeRun{cfg: sc, key: PriceKey{Level: sc.PriceLevel, Currency: id}, currency: code}
		if !slices.Contains(keys, runs[i].key) {
			keys = append(keys, runs[i].key)
		}
	}
	var want map[string]bool
	var pick func([]stock.Item) []string
	if len(opts.SKUs) > 0 {
		want = map[string]bool{}
		for _, s := range opts.SKUs {
			want[s] = true
		}
		pick = func(items []stock.Item) []string {
			ids := []string{}
			for _, it := range items {
				if sku, err := it.SKU(cfg.SKUField); err == nil && want[sku] {
					ids = append(ids, it.ID)
				}
			}
			return ids
		}
	}
	observed := p.now()
	cat, err := rd.Read(ctx, keys, pick)
	if err != nil {
		return nil, fmt.Errorf("inventory: read NetSuite: %w", err)
	}
	sum.Pages.Items, sum.Pages.Stock, sum.Pages.Prices = cat.Pages.Items, cat.Pages.Stock, cat.Pages.Prices
	p.m.Pages.WithLabelValues("item").Add(float64(cat.Pages.Items))
	p.m.Pages.WithLabelValues("aggregateItemLocation").Add(float64(cat.Pages.Stock))
	p.m.Pages.WithLabelValues("pricing").Add(float64(cat.Pages.Prices))
	p.m.Pages.WithLabelValues("other").Add(float64(sum.Pages.Other))
	sum.Items = len(cat.Items)
	bySKU, problems := stock.BySKU(cat.Items, cfg.SKUField)
	if want != nil {
		for sku := range bySKU {
			if !want[sku] {
				delete(bySKU, sku)
			}
		}
		problems = nil // about items outside the run
	}
	cat.Items = nil // bySKU has them; let the GC have the rest while the stores run
	sum.SKUs, sum.Problems = len(bySKU), problems
	for _, pr := range problems {
		p.log.Warn().Str("item", pr.ItemID).Str("sku", pr.SKU).Str("reason", pr.Reason).Msg("NetSuite item skipped")
	}
	if sum.ItemMap, err = p.items.Sync(ctx, bySKU, want == nil, observed); err != nil {
		return nil, fmt.Errorf("inventory: item map: %w", err)
	}
	skus := make([]string, 0, len(bySKU))
	for sku := range bySKU {
		skus = append(skus, sku)
	}
	sort.Strings(skus)
	fullTag := ""
	if opts.Full {
		fullTag = "/full:" + uuid.NewString()
	}
	for _, r := range runs {
		ss, err := p.runStore(ctx, r, cat, bySKU, skus, want, observed, opts, fullTag)
		sum.Stores = append(sum.Stores, ss)
		if err != nil {
			sum.Duration = p.now().Sub(started)
			return sum, fmt.Errorf("store %s: %w", r.cfg.Store, err)
		}
	}
	sum.Duration = p.now().Sub(started)
	return sum, nil
}

func (p *Publisher) runStore(ctx context.Context, r storeRun, cat *Catalogue, bySKU map[string]stock.Item, skus []string,
	want map[string]bool, observed time.Time, opts RunOptions, fullTag string) (StoreSummary, error) {
	store := r.cfg.Store
	ss := StoreSummary{Store: store}
	snap, err := p.snap.Load(ctx, store)
	if err != nil {
		return ss, err
	}
	codes := r.cfg.Rules.Codes()
	prices := cat.Prices[r.key]
	var jobs []job
	for _, sku := range skus {
		it := bySKU[sku]
		if it.Inactive {
			continue
		}
		ss.Active++
		cur := stock.Compute(it, cat.Levels[it.ID], prices[it.ID], r.currency, r.cfg.Rules, codes)
		prev, known := snap[sku]
		c := stock.Diff(prev.State, known, cur)
		if opts.Full {
			c = stock.Change{Price: cur.Price != nil, Stock: cur.Sources != nil}
		}
		if c.Any() {
			jobs = append(jobs, job{store: store, sku: sku, prev: prev, known: known, cur: cur, change: c})
		}
	}
	var gone []string
	for sku := range snap {
		if it, ok := bySKU[sku]; ok && !it.Inactive {
			continue
		}
		if want != nil && !want[sku] {
			continue
		}
		gone = append(gone, sku)
	}
	sort.Strings(gone)
	for _, sku := range gone {
		prev := snap[sku]
		if next, c, ok := stock.Gone(prev.State); ok {
			jobs = append(jobs, job{store: store, sku: sku, prev: prev, known: true, cur: next, change: c})
			ss.Gone++
		}
	}
	for _, j := range jobs {
		if j.change.Price {
			ss.PriceChanges++
		}
		if j.change.Stock {
			ss.StockChanges++
		}
	}
	p.m.Changes.WithLabelValues(store, "price").Add(float64(ss.PriceChanges))
	p.m.Changes.WithLabelValues(store, "stock").Add(float64(ss.StockChanges))

	var published, dups, done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.workers)
	for _, j := range jobs {
		g.Go(func() error {
			dup, err := p.publish(gctx, j, observed, opts.Origin, fullTag)
			if err != nil {
				return err
			}
			if dup {
				dups.Add(1)
			} else {
				published.Add(1)
			}
			if opts.Progress != nil {
				opts.Progress(Progress{Phase: "publish", Store: store, Done: int(done.Add(1)), Total: len(jobs)})
			}
			return nil
		})
	}
	err = g.Wait()
	ss.Published, ss.Duplicates = int(published.Load()), int(dups.Load())
	p.m.Published.WithLabelValues(store, "new").Add(float64(ss.Published))
	p.m.Published.WithLabelValues(store, "duplicate").Add(float64(ss.Duplicates))
	if opts.Progress != nil && len(jobs) == 0 {
		opts.Progress(Progress{Phase: "publish", Store: store})
	}
	return ss, err
}

// publish puts one change on INVENTORY and, once the stream has it,
// records the new state in the snapshot. A crash in between publishes the
// same change again next run, with the same message id (same base), which
// JetStream drops.
func (p *Publisher) publish(ctx context.Context, j job, observed time.Time, origin, fullTag string) (bool, error) {
	ch := event.InventoryChange{Store: j.store, SKU: j.sku, ItemID: j.cur.ItemID, Base: stock.Fingerprint(j.prev.State, j.known) + fullTag,
		ObservedAt: observed}
	if j.change.Price {
		ch.Price, ch.Currency = j.cur.Price, j.cur.Currency
	}
	if j.change.Stock {
		ch.Sources = j.cur.Sources
	}
	var popts []stream.PublishOption
	if origin != "" {
		popts = append(popts, stream.WithOrigin(origin))
	}
	ack, err := p.pub.Publish(ctx, ch, popts...)
	if err != nil {
		return false, err
	}
	next := Entry{SKU: j.sku, State: stock.Apply(j.prev.State, j.cur, j.change), PriceSeq: j.prev.PriceSeq, StockSeq: j.prev.StockSeq}
	if j.change.Price {
		next.PriceSeq = ack.Seq
	}
	if j.change.Stock {
		next.StockSeq = ack.Seq
	}
	if err := p.snap.Put(ctx, j.store, next); err != nil {
		return ack.Duplicate, err
	}
	return ack.Duplicate, nil
}
