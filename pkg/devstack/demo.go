package devstack

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/sim/catalog"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

// DemoOptions shape the demo's storefront and ERP traffic.
type DemoOptions struct {
	Rate   float64 // orders per second (default 2)
	Orders int     // stop after this many orders; 0 = until ctx is done
	Seed   int64
	// ChangeEvery is how many orders pass between two NetSuite changes
	// (stock and price in turn); default 3, negative = none.
	ChangeEvery int
	// InvoiceShare is the fraction of orders invoiced (captured) a few
	// orders later; default 0.6, negative = none.
	InvoiceShare float64
	// BuyerShare is the fraction of orders whose buyer signs up first;
	// default 0.1.
	BuyerShare float64
}

// DemoCounts is what the demo did so far.
type DemoCounts struct {
	Orders       int `json:"orders"`
	Invoices     int `json:"invoices"`
	Buyers       int `json:"buyers"`
	StockChanges int `json:"stock_changes"`
	PriceChanges int `json:"price_changes"`
}

// Demo is storefront and ERP traffic on the simulators: orders at a steady
// rate in every store in turn (their webhooks duplicated and dropped as the
// Commerce simulator's rates say), invoices captured a few orders later,
// buyers signing up, and stock and price changes in NetSuite. It remembers
// what NetSuite's stock is, so a check can tell whether Commerce got it.
type Demo struct {
	commerce *commercesim.Server
	netsuite *netsuitesim.Server
	o        DemoOptions
	rng      *rand.Rand
	skus     []string          // inventory items, in catalogue order
	itemIDs  map[string]string // SKU -> NetSuite item id
	base     map[string]decimal.Decimal

	mu     sync.Mutex
	stock  map[string]StockLevel
	counts DemoCounts
}

// NewDemo prepares traffic on both simulators, which must hold the shared
// catalogue (they do unless configured otherwise).
func NewDemo(c *commercesim.Server, ns *netsuitesim.Server, o DemoOptions) *Demo {
	if o.Rate <= 0 {
		o.Rate = 2
	}
	if o.ChangeEvery == 0 {
		o.ChangeEvery = 3
	}
	if o.InvoiceShare == 0 {
		o.InvoiceShare = 0.6
	}
	if o.BuyerShare == 0 {
		o.BuyerShare = 0.1
	}
	seed := uint64(o.Seed)
	d := &Demo{commerce: c, netsuite: ns, o: o, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)),
		itemIDs: map[string]string{}, base: map[string]decimal.Decimal{}, stock: map[string]StockLevel{}}
	for _, p := range catalog.Default() {
		if p.ItemType != "InvtPart" {
			continue
		}
		d.skus = append(d.skus, p.SKU)
		d.itemIDs[p.SKU] = strconv.Itoa(p.NetSuiteID)
		price := decimal.NewFromFloat(p.Price)
		d.base[p.SKU] = price
		d.stock[p.SKU] = StockLevel{Price: price, Quantity: decimal.NewFromInt(int64(p.Stock))}
	}
	return d
}

// DemoInventorySchedule is how often inventory-publisher syncs during a demo.
const DemoInventorySchedule = "@every 5s"

// SaveDemoSettings sets inventory-publisher's schedule to
// DemoInventorySchedule, so that the demo's NetSuite changes reach the
// storefront within seconds (the default is every 15 minutes).
func SaveDemoSettings(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.KeyValue(ctx, event.BucketSettings)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", event.BucketSettings, err)
	}
	st := settings.New(kv)
	inv := inventory.DefaultSettings()
	if err := st.Load(ctx, inventory.SettingsKey, inv); err != nil && !errors.Is(err, settings.ErrNotFound) {
		return err
	}
	inv.Schedule = DemoInventorySchedule
	return st.Save(ctx, inventory.SettingsKey, inv)
}

// Run places orders until Orders are placed (then captures the invoices
// still due and returns) or ctx is done (nil either way). Failed webhooks
// do not stop it: the backfill poll is there for them.
func (d *Demo) Run(ctx context.Context) error {
	stores := d.commerce.Config().Stores
	tick := time.NewTicker(time.Duration(float64(time.Second) / d.o.Rate))
	defer tick.Stop()
	type due struct{ entityID, at int }
	var queue []due
	for n := 0; d.o.Orders == 0 || d.Counts().Orders < d.o.Orders; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		store := stores[n%len(stores)].Code
		spec := commercesim.OrderSpec{}
		if d.rng.Float64() < d.o.BuyerShare {
			if c, err := d.commerce.RegisterCustomer(ctx, store, commercesim.CustomerSpec{}); err == nil {
				spec = commercesim.OrderSpec{Buyer: commercesim.BuyerCustomer, CustomerID: c.ID}
				d.count(func(c *DemoCounts) { c.Buyers++ })
			}
		}
		invoice := d.rng.Float64() < d.o.InvoiceShare
		delay := 2 + d.rng.IntN(4)
		o, err := d.commerce.PlaceOrder(ctx, store, spec)
		if err == nil && o.Placed {
			d.count(func(c *DemoCounts) { c.Orders++ })
			if invoice {
				queue = append(queue, due{o.EntityID, n + delay})
			}
		}
		if d.o.ChangeEvery > 0 && n%d.o.ChangeEvery == d.o.ChangeEvery-1 {
			d.change(n / d.o.ChangeEvery)
		}
		rest := queue[:0]
		for _, q := range queue {
			if q.at > n {
				rest = append(rest, q)
				continue
			}
			d.capture(ctx, q.entityID)
		}
		queue = rest
	}
	for _, q := range queue {
		d.capture(ctx, q.entityID)
	}
	return nil
}

func (d *Demo) capture(ctx context.Context, entityID int) {
	if _, err := d.commerce.CaptureInvoice(ctx, entityID); err == nil {
		d.count(func(c *DemoCounts) { c.Invoices++ })
	}
}

// change alters one item's stock (even turns) or price (odd turns) in
// NetSuite.
func (d *Demo) change(turn int) {
	sku := d.skus[d.rng.IntN(len(d.skus))]
	id := d.itemIDs[sku]
	d.mu.Lock()
	defer d.mu.Unlock()
	lvl := d.stock[sku]
	if turn%2 == 0 {
		available := d.rng.IntN(120)
		d.netsuite.SetStock(id, "1", available+d.rng.IntN(5), available)
		lvl.Quantity = decimal.NewFromInt(int64(available))
		d.counts.StockChanges++
	} else {
		// 80% to 120% of the catalogue price, in cents.
		pct := decimal.NewFromInt(int64(80 + d.rng.IntN(41))).Div(decimal.NewFromInt(100))
		lvl.Price = d.base[sku].Mul(pct).Round(2)
		d.netsuite.SetPrice(id, "1", "1", lvl.Price)
		d.counts.PriceChanges++
	}
	d.stock[sku] = lvl
}

func (d *Demo) count(fn func(*DemoCounts)) {
	d.mu.Lock()
	fn(&d.counts)
	d.mu.Unlock()
}

// Counts is what the demo did so far.
func (d *Demo) Counts() DemoCounts {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.counts
}

// Stock is NetSuite's price and available quantity of every inventory item
// as the demo left them (USD, base price level, the one location).
func (d *Demo) Stock() map[string]StockLevel {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]StockLevel, len(d.stock))
	for k, v := range d.stock {
		out[k] = v
	}
	return out
}
