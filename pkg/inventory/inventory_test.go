package inventory_test

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/itemmap"
)

// The shared catalogue: 8 stocked items with prices, a gift card
// (non-inventory: price only) and a kit (price only).
var stocked = []string{"MS09-M-Red", "MS09-L-Red", "MS09-M-Blue", "WB04", "24-MB01", "24-WG085", "24-WG080", "24-UG06"}

func TestRunWritesOnceThenOnlyChangesAndNothingOnRerun(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()

	// Initial run: every SKU once.
	sum := e.run(t, inventory.RunOptions{})
	s := store(t, sum, "default")
	if s.Published != 10 || s.PriceChanges != 10 || s.StockChanges != 8 || s.Duplicates != 0 {
		t.Fatalf("initial run: %+v", s)
	}
	e.waitOutcomes(t, 10)
	for _, sku := range stocked {
		if w := e.Commerce.PriceWrites(sku); len(w) != 1 || w[0].StoreID != 1 || w[0].Source != "base-prices" {
			t.Errorf("%s price writes %+v", sku, w)
		}
		if w := e.Commerce.StockWrites(sku); len(w) != 1 || w[0].SourceCode != "default" {
			t.Errorf("%s stock writes %+v", sku, w)
		}
	}
	if q, _ := e.Commerce.SourceQuantity("MS09-M-Red", "default"); !q.Equal(decimal.NewFromInt(40)) {
		t.Fatalf("MS09-M-Red quantity %v", q)
	}
	if q, _ := e.Commerce.SourceQuantity("MS09-M-Blue", "default"); !q.IsZero() || e.Commerce.StockWrites("MS09-M-Blue")[0].Status != 0 {
		t.Fatalf("MS09-M-Blue: %v %+v", q, e.Commerce.StockWrites("MS09-M-Blue"))
	}
	if w := e.Commerce.StockWrites("GC-50"); len(w) != 0 {
		t.Fatalf("a non-inventory item got stock: %+v", w)
	}
	if w := e.Commerce.PriceWrites("GC-50"); len(w) != 1 {
		t.Fatalf("gift card price writes %+v", w)
	}
	for sku, os := range e.outcomes(t) {
		if len(os) != 1 || os[0].Status != event.StatusOK || os[0].Store != "default" || os[0].Producer != inventory.Name {
			t.Errorf("%s outcomes %+v", sku, os)
		}
	}

	// A handful changed in NetSuite: exactly those are written.
	e.NetSuite.SetPrice("104", "1", "1", dec("49.50")) // WB04 price
	e.NetSuite.SetStock("101", "1", 40, 35)            // MS09-M-Red: 5 committed
	e.NetSuite.SetStock("103", "1", 3, 3)              // MS09-M-Blue back in stock
	s = store(t, e.run(t, inventory.RunOptions{}), "default")
	if s.Published != 3 || s.PriceChanges != 1 || s.StockChanges != 2 {
		t.Fatalf("second run: %+v", s)
	}
	e.waitOutcomes(t, 13)
	if w := e.Commerce.PriceWrites("WB04"); len(w) != 2 || !w[1].Price.Equal(dec("49.5")) {
		t.Fatalf("WB04 price writes %+v", w)
	}
	if w := e.Commerce.StockWrites("WB04"); len(w) != 1 {
		t.Fatalf("WB04 stock was written again: %+v", w)
	}
	if w := e.Commerce.StockWrites("MS09-M-Red"); len(w) != 2 || !w[1].Quantity.Equal(decimal.NewFromInt(35)) {
		t.Fatalf("MS09-M-Red stock writes %+v", w)
	}
	if w := e.Commerce.PriceWrites("MS09-M-Red"); len(w) != 1 {
		t.Fatalf("MS09-M-Red price was written again: %+v", w)
	}
	if w := e.Commerce.StockWrites("MS09-M-Blue"); len(w) != 2 || w[1].Status != 1 {
		t.Fatalf("MS09-M-Blue stock writes %+v", w)
	}
	for _, sku := range []string{"MS09-L-Red", "24-MB01", "24-UG06"} {
		if len(e.Commerce.PriceWrites(sku)) != 1 || len(e.Commerce.StockWrites(sku)) != 1 {
			t.Errorf("%s written again", sku)
		}
	}

	// Nothing changed: nothing published.
	before := e.Total(t, event.StreamInventory)
	s = store(t, e.run(t, inventory.RunOptions{}), "default")
	if s.Published != 0 || s.Duplicates != 0 || s.PriceChanges+s.StockChanges != 0 || s.Active != 10 {
		t.Fatalf("rerun: %+v", s)
	}

	// A restart (a new process, nothing in memory) keeps the snapshot.
	e.pub = newPublisher(t, e.Env, 1000)
	s = store(t, e.run(t, inventory.RunOptions{}), "default")
	if s.Published != 0 || s.Duplicates != 0 {
		t.Fatalf("run after restart: %+v", s)
	}
	if after := e.Total(t, event.StreamInventory); after != before {
		t.Fatalf("INVENTORY grew from %d to %d without a change", before, after)
	}

	// The item map feeds the order flow.
	kv, err := e.JS.KeyValue(ctx, event.BucketItemMap)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := itemmap.Get(ctx, kv, "MS09-M-Red"); err != nil || v.ItemID != "101" || v.Type != "InvtPart" || !v.Usable() {
		t.Fatalf("item map MS09-M-Red: %+v %v", v, err)
	}
	if _, err := itemmap.Get(ctx, kv, "Shipping"); err == nil {
		t.Fatal("the shipping item is not a storefront SKU")
	}
}
