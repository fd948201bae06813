// Package flowtest_test checks flows that cross services: the services run
// together as in production (servicetest's JetStream, both simulators,
// each service's Run), driven and checked from the outside.
package flowtest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/itemmap"
	"github.com/ml-connector/ml-connector/pkg/mapping"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/pkg/transform"
)

// An order whose SKU NetSuite does not have yet waits in transform (it is
// not dead-lettered); once the item is created in NetSuite, the next
// inventory run puts it in the item map and the order maps to it (issue
// 12: "the item map feeds the transform service").
func TestOrderWithNewSKUMapsAfterTheNextInventoryRun(t *testing.T) {
	// Commerce's webhooks go to a receiver that accepts them; their bodies
	// are what ingest would store.
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"op":"success"}`))
	}))
	t.Cleanup(hooks.Close)
	e := servicetest.New(t, servicetest.WithNetSuite(netsuitesim.Config{}),
		servicetest.WithCommerce(commercesim.Config{Seed: 5, Webhooks: commercesim.WebhookConfig{BaseURL: hooks.URL, Timeout: 5 * time.Second}}))
	ctx := context.Background()
	settingsKV, err := e.JS.KeyValue(ctx, event.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	if err := connection.SaveNetSuiteSettings(ctx, settingsKV, connection.NetSuiteSettings{ByStore: map[string]string{"default": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := settings.New(settingsKV).Save(ctx, mapping.SettingsKey, mapping.Settings{Location: "1", Currencies: map[string]string{"USD": "1"},
		ShipMethods: map[string]string{"flatrate_flatrate": "301"}}); err != nil {
		t.Fatal(err)
	}
	itemsKV, err := e.JS.KeyValue(ctx, event.BucketItemMap)
	if err != nil {
		t.Fatal(err)
	}

	// The inventory publisher's Commerce writer as deployed, runs on
	// demand only (as `mlc sync inventory` starts them); the process is
	// shared, so no soft memory limit.
	e.Run(inventory.Run, servicetest.Setenv(map[string]string{"MLC_INVENTORY_SCHEDULE": "false", "MLC_INVENTORY_MEMORY_LIMIT": "off",
		"MLC_INVENTORY_WRITE_WAIT": "50ms"}))
	pub, err := inventory.NewPublisher(ctx, e.JS, e.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	run := func() *inventory.Summary {
		t.Helper()
		sum, err := pub.Run(ctx, inventory.RunOptions{Origin: event.OriginManual})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	// A first run maps the catalogue NetSuite has.
	if sum := run(); sum.ItemMap.Added == 0 {
		t.Fatalf("first inventory run added nothing to the item map: %+v", sum.ItemMap)
	}

	// The transform as deployed, with short waits: an unmapped order is
	// retried every 500 ms and dead-lettered only after 30 s, longer
	// than this test.
	svc := e.Run(transform.Run, servicetest.Setenv(map[string]string{
		"MLC_TRANSFORM_CONFIRM_WINDOW": "3s", "MLC_TRANSFORM_CONFIRM_RETRY": "100ms",
		"MLC_TRANSFORM_UNMAPPED_WAIT": "30s", "MLC_TRANSFORM_UNMAPPED_RETRY": "500ms",
		"MLC_TRANSFORM_RETRY_BASE": "50ms", "MLC_TRANSFORM_RETRY_MAX": "200ms",
	}))
	waiting := func() float64 {
		v, _ := strconv.ParseFloat(svc.Metric(t, `mlc_transform_facts_total{kind="order.placed",outcome="waiting"}`), 64)
		return v
	}

	// A product new in Commerce, not yet in NetSuite; an odd SKU, as
	// operators type them.
	const sku = "ACME/Tee M_Red 2"
	e.Commerce.AddProduct(sku, "Acme Tee", decimal.RequireFromString("24.00"))
	o, err := e.Commerce.PlaceOrder(ctx, "default", commercesim.OrderSpec{Buyer: commercesim.BuyerCustomer,
		Lines: []commercesim.LineSpec{{SKU: sku, Qty: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	for _, d := range e.Commerce.Deliveries() {
		if d.Event == "sales_order_place_after" && d.Key == o.IncrementID && d.Success {
			body = d.Body
		}
	}
	if body == nil {
		t.Fatalf("no order webhook for %s", o.IncrementID)
	}
	// Stored as ingest stores a verified webhook.
	if _, err := stream.NewPublisher(e.JS).Publish(ctx, event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: o.IncrementID,
		DataSchema: event.SchemaWebhook, Raw: body}, stream.WithOrigin(event.OriginWebhook)); err != nil {
		t.Fatal(err)
	}
	servicetest.WaitFor(t, "transform to wait for the order's SKU (retried at least twice)", func() bool { return waiting() >= 2 })
	if n := e.Count(t, event.StreamNetSuite, ">"); n != 0 {
		t.Fatalf("%d NetSuite commands while the SKU is unknown", n)
	}

	// The item created in NetSuite; the next inventory run maps it.
	e.NetSuite.AddItem(netsuitesim.Item{ID: "7701", ItemID: sku})
	e.NetSuite.SetPrice("7701", "1", "1", decimal.RequireFromString("24.00"))
	e.NetSuite.SetStock("7701", "1", 12, 10)
	sum := run()
	if sum.ItemMap.Added != 1 {
		t.Errorf("second inventory run: item map %+v, want the one new item added", sum.ItemMap)
	}
	if v, err := itemmap.Get(ctx, itemsKV, sku); err != nil || v.ItemID != "7701" || !v.Usable() {
		t.Fatalf("item map for %q: %+v, %v", sku, v, err)
	}

	m := e.Next(t, event.StreamNetSuite, event.NetSuiteSubject(event.KindSalesOrder))
	cmd, _, err := event.DecodeNetSuiteCommand(m.Data())
	if err != nil {
		t.Fatal(err)
	}
	if key := m.Headers().Get(event.HeaderKey); key != "order:default:"+o.IncrementID {
		t.Fatalf("command for %q, want the order %s", key, o.IncrementID)
	}
	if !strings.Contains(string(cmd.Record), `"item":{"id":"7701"}`) || !strings.Contains(string(cmd.Record), `"quantity":2`) {
		t.Errorf("sales order record does not order 2 of item 7701: %s", cmd.Record)
	}
	// The order waited and mapped: it is in no dead letter (the command
	// above came after every retry it had).
	if n := e.Count(t, event.StreamDLQ, ">"); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
	// The same run wrote the new SKU's price to Commerce.
	servicetest.WaitFor(t, "the new SKU's price in Commerce", func() bool {
		w := e.Commerce.PriceWrites(sku)
		return len(w) == 1 && w[0].Price.Equal(decimal.RequireFromString("24"))
	})
}
