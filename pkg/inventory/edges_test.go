package inventory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/itemmap"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stock"
)

// Locations map to MSI sources, the buffer applies per source, a negative
// availability publishes 0, and the stock basis picks the column.
func TestLocationsSourcesBufferAndBasis(t *testing.T) {
	cfg := inventory.DefaultSettings()
	cfg.Sources = map[string]string{"1": "default", "2": "eu-warehouse"}
	cfg.SafetyBuffer = dec("2")
	e := newEnv(t, envOptions{settings: cfg})
	e.NetSuite.SetStock("101", "2", 9, 7)   // MS09-M-Red: 40 at 1, 7 available at 2
	e.NetSuite.SetStock("105", "1", 0, -5)  // 24-MB01 over-committed
	e.NetSuite.SetStock("104", "1", 12, 12) // WB04
	e.NetSuite.SetStock("104", "2", 2, 1)   // WB04: 1 - 2 -> 0 at eu-warehouse
	e.run(t, inventory.RunOptions{})
	e.waitOutcomes(t, 10)
	for _, c := range []struct {
		sku, source string
		qty         int64
		status      int
	}{
		{"MS09-M-Red", "default", 38, 1}, {"MS09-M-Red", "eu-warehouse", 5, 1},
		{"24-MB01", "default", 0, 0}, {"24-MB01", "eu-warehouse", 0, 0},
		{"WB04", "default", 10, 1}, {"WB04", "eu-warehouse", 0, 0},
	} {
		q, ok := e.Commerce.SourceQuantity(c.sku, c.source)
		if !ok || !q.Equal(decimal.NewFromInt(c.qty)) {
			t.Errorf("%s at %s: %v %v, want %d", c.sku, c.source, q, ok, c.qty)
		}
		found := false
		for _, w := range e.Commerce.StockWrites(c.sku) {
			if w.SourceCode == c.source {
				found = true
				if w.Status != c.status {
					t.Errorf("%s at %s: status %d, want %d", c.sku, c.source, w.Status, c.status)
				}
			}
		}
		if !found {
			t.Errorf("%s at %s not written", c.sku, c.source)
		}
	}

	// Basis: available counts NetSuite's committed orders; onhand leaves
	// the storefront's own to Commerce's reservations.
	e.NetSuite.SetStock("106", "1", 300, 290) // 24-WG085: 10 committed
	e.run(t, inventory.RunOptions{SKUs: []string{"24-WG085"}})
	cfg.StockBasis = stock.BasisOnHand
	saveSettings(t, e.Env, cfg)
	e.run(t, inventory.RunOptions{SKUs: []string{"24-WG085"}})
	var got []string
	for _, ch := range e.changes(t) {
		if ch.SKU == "24-WG085" && ch.Sources != nil {
			got = append(got, ch.Sources[0].Quantity.String())
		}
	}
	// First run (available 300 - buffer), then 290 - 2, then on hand 300 - 2.
	if strings.Join(got, ",") != "298,288,298" {
		t.Fatalf("24-WG085 default-source quantities published: %v", got)
	}
	e.waitOutcomes(t, 12)
	if q, _ := e.Commerce.SourceQuantity("24-WG085", "default"); !q.Equal(decimal.NewFromInt(298)) {
		t.Fatalf("24-WG085 in Commerce: %v", q)
	}
}

// A SKU Commerce does not have is reported — metric, sync.failed, a DLQ
// entry naming it — and the rest of the batch is written.
func TestUnknownSKUReportedWithoutBlockingTheBatch(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.NetSuite.AddItem(netsuitesim.Item{ID: "900", ItemID: "NOT-IN-COMMERCE"})
	e.NetSuite.SetPrice("900", "1", "1", dec("5"))
	e.NetSuite.SetStock("900", "1", 4, 4)
	e.run(t, inventory.RunOptions{})
	e.waitOutcomes(t, 11)
	for _, sku := range stocked {
		if len(e.Commerce.PriceWrites(sku)) != 1 || len(e.Commerce.StockWrites(sku)) != 1 {
			t.Errorf("%s not written next to the unknown SKU", sku)
		}
	}
	os := e.outcomes(t)["NOT-IN-COMMERCE"]
	if len(os) != 1 || os[0].Status != event.StatusFailed || os[0].ErrorCode != "unknown_sku" || os[0].InternalID != "900" ||
		!strings.Contains(os[0].ErrorDetail, "Requested product doesn't exist: NOT-IN-COMMERCE") ||
		!strings.Contains(os[0].ErrorDetail, `Product with SKU "NOT-IN-COMMERCE" does not exist.`) {
		t.Fatalf("outcome %+v", os)
	}
	if n := e.Count(t, event.StreamSync, event.SyncSubject(false, event.KindInventory)); n != 1 {
		t.Fatalf("%d failed outcomes", n)
	}
	servicetest.WaitFor(t, "the DLQ entry", func() bool { return e.Count(t, event.StreamDLQ, "dlq.>") == 1 })
	m := e.Last(t, event.StreamDLQ, event.DLQSubject(event.InventorySubject()))
	d, err := event.ReadDeadLetter(m.Subject, m.Header, m.Data)
	if err != nil || !strings.Contains(d.Reason, `SKU "NOT-IN-COMMERCE" is not a product in Commerce store default`) ||
		d.Consumer != event.DurableCommerceWriter {
		t.Fatalf("dead letter %+v %v", d, err)
	}
	if ch, _, err := event.DecodeInventoryChange(d.Data); err != nil || ch.SKU != "NOT-IN-COMMERCE" {
		t.Fatalf("dead letter body: %+v %v", ch, err)
	}
	if v := e.svc.Metric(t, `mlc_inventory_unknown_skus_total{store="default"}`); v != "1" {
		t.Fatalf("unknown SKU metric %q", v)
	}
	// Reported once: the next run has nothing new for it.
	if s := store(t, e.run(t, inventory.RunOptions{}), "default"); s.Published != 0 {
		t.Fatalf("rerun: %+v", s)
	}
}

// Odd SKUs (spaces, slashes, unicode, very long) and an odd store code,
// over many SuiteQL pages (stock rows of one item straddling pages), in
// Commerce batches of at most 20 rows.
func TestOddSKUsStoreCodePagingAndBatches(t *testing.T) {
	stores := []commercesim.Store{{Code: "en_us", ID: 3, WebsiteID: 1, Currency: "USD"}}
	cfg := inventory.DefaultSettings()
	cfg.Sources = map[string]string{"1": "default", "2": "eu-warehouse"}
	e := newEnv(t, envOptions{stores: stores, codes: []string{"en_us"}, settings: cfg, pageSize: 7})
	odd := []string{"with space", "a/b/c", "Größe-XL", "日本語-SKU", "emoji-🙂", "dots.in.sku", "under_score", strings.Repeat("L", 64)}
	for i := range 40 {
		odd = append(odd, fmt.Sprintf("BULK %02d/x", i))
	}
	want := map[string]int{}
	for i, sku := range odd {
		id := fmt.Sprint(1000 + i)
		e.NetSuite.AddItem(netsuitesim.Item{ID: id, ItemID: sku})
		e.NetSuite.SetPrice(id, "1", "1", decimal.New(int64(100+i), -1))
		e.NetSuite.SetStock(id, "1", i, i)
		e.NetSuite.SetStock(id, "2", 1, 1)
		e.Commerce.AddProduct(sku, sku, decimal.NewFromInt(1))
		want[sku] = i
	}
	sum := e.run(t, inventory.RunOptions{})
	s := store(t, sum, "en_us")
	if s.Published != len(odd)+10 || sum.Pages.Items < 9 || sum.Pages.Stock < 9 {
		t.Fatalf("run: %+v pages %+v", s, sum.Pages)
	}
	e.waitOutcomes(t, uint64(len(odd)+10))
	for sku, i := range want {
		if p, ok := e.Commerce.ProductPrice(sku, 3); !ok || !p.Equal(decimal.New(int64(100+i), -1)) {
			t.Errorf("%q price at en_us: %v %v", sku, p, ok)
		}
		if q, _ := e.Commerce.SourceQuantity(sku, "default"); !q.Equal(decimal.NewFromInt(int64(i))) {
			t.Errorf("%q default quantity %v, want %d", sku, q, i)
		}
		if q, _ := e.Commerce.SourceQuantity(sku, "eu-warehouse"); !q.Equal(decimal.NewFromInt(1)) {
			t.Errorf("%q eu-warehouse quantity %v", sku, q)
		}
	}
	for sku, os := range e.outcomes(t) {
		if len(os) != 1 || os[0].Status != event.StatusOK || os[0].Store != "en_us" {
			t.Errorf("%q outcomes %+v", sku, os)
		}
	}
	// 58 prices and 116 source rows: every request within the input limit
	// (more than 20 rows would have been refused with a 400). How many
	// requests depends on how the writer's batches fell.
	prices, sources := writeRequests(e.Commerce, "/V1/products/base-prices"), writeRequests(e.Commerce, "/V1/inventory/source-items")
	if prices[400] != 0 || sources[400] != 0 || prices[200] < 3 || sources[200] < 6 {
		t.Fatalf("base-prices requests %v, source-items requests %v", prices, sources)
	}
	ctx := context.Background()
	kv, err := e.JS.KeyValue(ctx, event.BucketItemMap)
	if err != nil {
		t.Fatal(err)
	}
	for _, sku := range odd[:8] {
		if v, err := itemmap.Get(ctx, kv, sku); err != nil || !v.Usable() {
			t.Errorf("item map %q: %+v %v", sku, v, err)
		}
	}
	if s := store(t, e.run(t, inventory.RunOptions{}), "en_us"); s.Published != 0 {
		t.Fatalf("rerun: %+v", s)
	}
}

// A crash after the publish was acknowledged but before the snapshot was
// updated publishes the same change again: JetStream drops it (same id)
// and Commerce is not written twice.
func TestCrashBetweenPublishAndSnapshotIsADuplicate(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.run(t, inventory.RunOptions{})
	e.waitOutcomes(t, 10)
	ctx := context.Background()
	kv, err := e.JS.KeyValue(ctx, event.BucketInventory)
	if err != nil {
		t.Fatal(err)
	}
	old, err := kv.Get(ctx, inventory.SnapshotKey("default", "WB04"))
	if err != nil {
		t.Fatal(err)
	}
	e.NetSuite.SetPrice("104", "1", "1", dec("50"))
	e.run(t, inventory.RunOptions{})
	e.waitOutcomes(t, 11)
	if _, err := kv.Put(ctx, inventory.SnapshotKey("default", "WB04"), old.Value()); err != nil { // the lost snapshot write
		t.Fatal(err)
	}
	before := e.Total(t, event.StreamInventory)
	s := store(t, e.run(t, inventory.RunOptions{}), "default")
	if s.Published != 0 || s.Duplicates != 1 || e.Total(t, event.StreamInventory) != before {
		t.Fatalf("replayed change: %+v", s)
	}
	// And the snapshot is whole again: the next run is quiet.
	if s := store(t, e.run(t, inventory.RunOptions{}), "default"); s.Published+s.Duplicates != 0 {
		t.Fatalf("after the repair: %+v", s)
	}
	if w := e.Commerce.PriceWrites("WB04"); len(w) != 2 {
		t.Fatalf("WB04 price writes %+v", w)
	}
}

// A price that goes back to its earlier value inside the duplicate window
// is published again (the change's base differs).
func TestPriceBackToEarlierValueIsPublished(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.run(t, inventory.RunOptions{})
	e.NetSuite.SetPrice("104", "1", "1", dec("50"))
	e.run(t, inventory.RunOptions{})
	e.NetSuite.SetPrice("104", "1", "1", dec("45"))
	if s := store(t, e.run(t, inventory.RunOptions{}), "default"); s.Published != 1 {
		t.Fatalf("back to 45: %+v", s)
	}
	e.waitOutcomes(t, 12)
	if p, _ := e.Commerce.ProductPrice("WB04", 1); !p.Equal(dec("45")) {
		t.Fatalf("WB04 price %v", p)
	}
}

// An item made inactive in NetSuite is taken off sale (0, out of stock)
// and kept in the item map as inactive; a new NetSuite item maps after
// the next run.
func TestInactiveAndNewItems(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.run(t, inventory.RunOptions{})
	e.waitOutcomes(t, 10)
	e.NetSuite.AddItem(netsuitesim.Item{ID: "104", ItemID: "WB04", Inactive: true})
	e.NetSuite.AddItem(netsuitesim.Item{ID: "950", ItemID: "NEW-1"})
	s := store(t, e.run(t, inventory.RunOptions{}), "default")
	// WB04 off sale; NEW-1 (no stock anywhere yet, not in Commerce) at 0.
	if s.Gone != 1 || s.Published != 2 || s.StockChanges != 2 {
		t.Fatalf("run: %+v", s)
	}
	e.waitOutcomes(t, 12)
	if w := e.Commerce.StockWrites("WB04"); len(w) != 2 || !w[1].Quantity.IsZero() || w[1].Status != 0 {
		t.Fatalf("WB04 stock writes %+v", w)
	}
	ctx := context.Background()
	kv, _ := e.JS.KeyValue(ctx, event.BucketItemMap)
	if v, err := itemmap.Get(ctx, kv, "WB04"); err != nil || v.Active || v.Usable() {
		t.Fatalf("inactive WB04 in the item map: %+v %v", v, err)
	}
	if v, err := itemmap.Get(ctx, kv, "NEW-1"); err != nil || v.ItemID != "950" || !v.Usable() {
		t.Fatalf("new item in the item map: %+v %v", v, err)
	}
	if s := store(t, e.run(t, inventory.RunOptions{}), "default"); s.Published != 0 {
		t.Fatalf("a gone item is taken off sale once: %+v", s)
	}
}

// On demand for some SKUs; a full run republishes everything once.
func TestRunForSKUsAndFull(t *testing.T) {
	e := newEnv(t, envOptions{})
	s := store(t, e.run(t, inventory.RunOptions{SKUs: []string{"WB04", "GC-50", "NO-SUCH"}}), "default")
	if s.Published != 2 || s.Active != 2 {
		t.Fatalf("SKU run: %+v", s)
	}
	e.waitOutcomes(t, 2)
	if len(e.Commerce.PriceWrites("24-MB01")) != 0 {
		t.Fatal("a SKU outside the run was written")
	}
	e.run(t, inventory.RunOptions{})
	e.waitOutcomes(t, 10)
	s = store(t, e.run(t, inventory.RunOptions{Full: true}), "default")
	if s.Published != 10 {
		t.Fatalf("full run: %+v", s)
	}
	e.waitOutcomes(t, 20)
	if w := e.Commerce.PriceWrites("WB04"); len(w) != 2 {
		t.Fatalf("WB04 after a full run: %+v", w)
	}
}

// Bulk mode: the same writes through the async bulk endpoints, followed to
// completion, with rejected rows still found per SKU.
func TestBulkWriteMode(t *testing.T) {
	cfg := inventory.DefaultSettings()
	cfg.WriteMode = inventory.WriteBulk
	e := newEnv(t, envOptions{settings: cfg})
	e.NetSuite.AddItem(netsuitesim.Item{ID: "900", ItemID: "NOT-IN-COMMERCE"})
	e.NetSuite.SetPrice("900", "1", "1", dec("5"))
	e.NetSuite.SetStock("900", "1", 4, 4)
	e.run(t, inventory.RunOptions{})
	e.waitOutcomes(t, 11)
	for _, sku := range stocked {
		pw, sw := e.Commerce.PriceWrites(sku), e.Commerce.StockWrites(sku)
		if len(pw) != 1 || pw[0].Via != "bulk" || len(sw) != 1 || sw[0].Via == "" {
			t.Errorf("%s: price %+v stock %+v", sku, pw, sw)
		}
	}
	if os := e.outcomes(t)["NOT-IN-COMMERCE"]; len(os) != 1 || os[0].ErrorCode != "unknown_sku" {
		t.Fatalf("unknown SKU in bulk mode: %+v", os)
	}
}

// The schedule runs a store by itself, once per period across restarts,
// and picks up NetSuite changes.
func TestScheduledRuns(t *testing.T) {
	cfg := inventory.DefaultSettings()
	cfg.Schedule = "@every 1s"
	e := newEnv(t, envOptions{settings: cfg, environ: map[string]string{"MLC_INVENTORY_SCHEDULE": "true", "MLC_INVENTORY_SCHEDULE_CHECK": "100ms"}})
	e.waitOutcomes(t, 10)
	if v := e.svc.Metric(t, `mlc_inventory_runs_total{origin="schedule",outcome="ok"}`); v == "" {
		t.Fatal("no scheduled run counted")
	}
	e.NetSuite.SetPrice("104", "1", "1", dec("46"))
	servicetest.WaitFor(t, "the scheduled run to write the new price", func() bool {
		p, _ := e.Commerce.ProductPrice("WB04", 1)
		return p.Equal(dec("46"))
	})
	ctx := context.Background()
	cp, _ := e.JS.KeyValue(ctx, event.BucketCheckpoints)
	en, err := cp.Get(ctx, "inventory.lastrun.default")
	if err != nil {
		t.Fatal(err)
	}
	if last, err := time.Parse(time.RFC3339Nano, string(en.Value())); err != nil || time.Since(last) > time.Minute {
		t.Fatalf("last run %q %v", en.Value(), err)
	}
	// An on-demand run waits for the scheduled one's lease instead of
	// running beside it, and then finds nothing to do.
	if s := store(t, e.run(t, inventory.RunOptions{}), "default"); s.Published != 0 {
		t.Fatalf("on-demand run after the schedule: %+v", s)
	}
}

func TestSettingsValidate(t *testing.T) {
	if err := inventory.DefaultSettings().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := func(name string, f func(s *inventory.Settings), want string) {
		t.Helper()
		s := inventory.DefaultSettings()
		f(s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	neg := dec("-1")
	spaced := "a b"
	bad("sku field", func(s *inventory.Settings) { s.SKUField = "name" }, "sku_field")
	bad("schedule", func(s *inventory.Settings) { s.Schedule = "every day" }, "schedule")
	bad("store schedule", func(s *inventory.Settings) {
		v := "61 * * * *"
		s.Stores = map[string]inventory.StoreSettings{"en_us": {Schedule: &v}}
	}, `stores["en_us"].schedule`)
	bad("buffer", func(s *inventory.Settings) { s.Stores = map[string]inventory.StoreSettings{"x": {SafetyBuffer: &neg}} }, "safety_buffer")
	bad("source code", func(s *inventory.Settings) { s.Sources = map[string]string{"1": "eu warehouse"} }, "sources")
	bad("default source", func(s *inventory.Settings) {
		s.Stores = map[string]inventory.StoreSettings{"x": {DefaultSource: &spaced}}
	}, "default_source")
	bad("batch", func(s *inventory.Settings) { s.BatchSize = 0 }, "batch_size")
	bad("mode", func(s *inventory.Settings) { s.WriteMode = "async" }, "write_mode")
	bad("basis", func(s *inventory.Settings) { s.StockBasis = "salable" }, "stock_basis")
	bad("scope", func(s *inventory.Settings) { s.PriceScope = "website" }, "price_scope")
	bad("empty store code", func(s *inventory.Settings) { s.Stores = map[string]inventory.StoreSettings{"": {}} }, "store code")

	s := inventory.DefaultSettings()
	on := "onhand"
	s.Stores = map[string]inventory.StoreSettings{"us.east": {StockBasis: &on, Sources: map[string]string{"3": "east"}}}
	if c := s.For("us.east"); c.Rules.Basis != on || c.Rules.Sources["3"] != "east" || c.Currency != "USD" || c.Schedule != "@every 15m" {
		t.Fatalf("override: %+v", c)
	}
	if c := s.For("other"); c.Rules.Basis != stock.BasisAvailable || c.Rules.Sources != nil {
		t.Fatalf("defaults: %+v", c)
	}
}
