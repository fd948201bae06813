package transform_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/itemmap"
	"github.com/ml-connector/ml-connector/pkg/mapping"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/sim/catalog"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/pkg/transform"
)

// world is the transform running as in production on servicetest's
// JetStream, the Commerce simulator behind its two stores' connections,
// the mapping settings and the item map seeded as an operator and the
// inventory publisher would leave them.
type world struct {
	*servicetest.Env
	t   testing.TB
	sim *commercesim.Server
	svc *servicetest.Service
	pub *stream.Publisher
	kv  struct{ settings, items jetstream.KeyValue }
}

type worldOptions struct {
	commitDelay time.Duration
	env         map[string]string
	skipItems   []string // SKUs left out of the item map
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	// Commerce's webhooks go to a receiver that accepts them: their bodies
	// are what ingest would store (sim.Deliveries).
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"op":"success"}`))
	}))
	t.Cleanup(hooks.Close)
	e := servicetest.New(t, servicetest.WithCommerce(commercesim.Config{Seed: 11, CommitDelay: o.commitDelay,
		Webhooks: commercesim.WebhookConfig{BaseURL: hooks.URL, Timeout: 5 * time.Second}}), servicetest.WithStores("default", "uk"))
	w := &world{Env: e, t: t, sim: e.Commerce, pub: stream.NewPublisher(e.JS)}
	ctx := context.Background()
	var err error
	if w.kv.settings, err = e.JS.KeyValue(ctx, event.BucketSettings); err != nil {
		t.Fatal(err)
	}
	if w.kv.items, err = e.JS.KeyValue(ctx, event.BucketItemMap); err != nil {
		t.Fatal(err)
	}
	if err := connection.SaveNetSuiteSettings(ctx, w.kv.settings, connection.NetSuiteSettings{
		OneWorld: true, ByStore: map[string]string{"default": "2", "uk": "3"}}); err != nil {
		t.Fatal(err)
	}
	w.saveSettings(mapping.SettingsKey, mapping.Settings{Location: "1", Currencies: map[string]string{"USD": "1", "GBP": "2"},
		ShipMethods: map[string]string{"flatrate_flatrate": "301"}})
	w.saveSettings(mapping.StoreKey("uk"), mapping.Settings{Location: "2", TimeZone: "Europe/London"})
	skip := map[string]bool{}
	for _, s := range o.skipItems {
		skip[s] = true
	}
	for _, p := range catalog.Default() {
		if p.NetSuiteID != 0 && !skip[p.SKU] {
			w.putItem(p.SKU, strconv.Itoa(p.NetSuiteID), true)
		}
	}
	env := map[string]string{
		"MLC_TRANSFORM_CONFIRM_WINDOW": "3s", "MLC_TRANSFORM_CONFIRM_RETRY": "100ms",
		"MLC_TRANSFORM_UNMAPPED_WAIT": "2s", "MLC_TRANSFORM_UNMAPPED_RETRY": "100ms",
		"MLC_TRANSFORM_RETRY_BASE": "50ms", "MLC_TRANSFORM_RETRY_MAX": "200ms",
	}
	for k, v := range o.env {
		env[k] = v
	}
	w.svc = e.Run(transform.Run, servicetest.Setenv(env))
	return w
}

func (w *world) saveSettings(key string, s mapping.Settings) {
	w.t.Helper()
	if err := settings.New(w.kv.settings).Save(context.Background(), key, s); err != nil {
		w.t.Fatal(err)
	}
}

// putItem stores a SKU -> item id as inventory-publisher does.
func (w *world) putItem(sku, id string, active bool) {
	w.t.Helper()
	if _, err := itemmap.Put(context.Background(), w.kv.items, itemmap.Value{SKU: sku, ItemID: id, Type: "InvtPart", Active: active,
		UpdatedAt: time.Now()}); err != nil {
		w.t.Fatal(err)
	}
}

// place places an order in the simulator.
func (w *world) place(store string, spec commercesim.OrderSpec) commercesim.Order {
	w.t.Helper()
	o, err := w.sim.PlaceOrder(context.Background(), store, spec)
	if err != nil {
		w.t.Fatal(err)
	}
	return o
}

// restOrder is the order as the backfill poll reads it.
func (w *world) restOrder(store string, entityID int) []byte {
	w.t.Helper()
	c, err := commerce.NewFromConfig(w.CommerceConnection(store).ClientConfig())
	if err != nil {
		w.t.Fatal(err)
	}
	var raw json.RawMessage
	if err := c.Do(context.Background(), http.MethodGet, "V1/orders/"+strconv.Itoa(entityID), nil, nil, &raw); err != nil {
		w.t.Fatal(err)
	}
	return raw
}

// hook is the body of the webhook the simulator sent for key.
func (w *world) hook(event, key string) []byte {
	w.t.Helper()
	for _, d := range w.sim.Deliveries() {
		if d.Event == event && d.Key == key && d.Success {
			return d.Body
		}
	}
	w.t.Fatalf("no %s webhook for %s", event, key)
	return nil
}

// fact publishes a COMMERCE fact as ingest does and returns its event id.
func (w *world) fact(f event.CommerceFact, origin string, opts ...stream.PublishOption) stream.Published {
	w.t.Helper()
	res, err := w.pub.Publish(context.Background(), f, append([]stream.PublishOption{stream.WithOrigin(origin)}, opts...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	return res
}

// copyOf publishes a copy of a fact under its own Nats-Msg-Id (as a
// replay does), so that JetStream stores and delivers it again.
func (w *world) copyOf(f event.CommerceFact, origin, msgID string) {
	w.t.Helper()
	msg, _, err := w.pub.Build(f, stream.WithOrigin(origin))
	if err != nil {
		w.t.Fatal(err)
	}
	msg.Header.Set(event.HeaderMsgID, msgID)
	if _, err := w.JS.PublishMsg(context.Background(), msg); err != nil {
		w.t.Fatal(err)
	}
}

// command waits for the NetSuite command with this business key.
func (w *world) command(kind, key string) (event.NetSuiteCommand, jetstream.Msg) {
	w.t.Helper()
	for {
		m := w.Next(w.t, event.StreamNetSuite, event.NetSuiteSubject(kind))
		if m.Headers().Get(event.HeaderKey) != key {
			continue
		}
		cmd, _, err := event.DecodeNetSuiteCommand(m.Data())
		if err != nil {
			w.t.Fatalf("command %s: %v", key, err)
		}
		return cmd, m
	}
}

func (w *world) metric(series string) float64 {
	w.t.Helper()
	v := w.svc.Metric(w.t, series)
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		w.t.Fatal(err)
	}
	return f
}

func checkCausation(t *testing.T, m jetstream.Msg, fact stream.Published, factTrace string) {
	t.Helper()
	h := m.Headers()
	if got := h.Get(event.HeaderCausation); got != fact.EventID {
		t.Errorf("Mlc-Causation %q, want the fact's event id %q", got, fact.EventID)
	}
	got, ok1 := event.ParseTraceparent(h.Get(event.HeaderTraceparent))
	parent, ok2 := event.ParseTraceparent(factTrace)
	if !ok1 || !ok2 || got.TraceID != parent.TraceID || got.SpanID == parent.SpanID {
		t.Errorf("traceparent %q does not continue the fact's %q", h.Get(event.HeaderTraceparent), factTrace)
	}
}

func traceOf(t *testing.T, w *world, stream string, seq uint64) string {
	t.Helper()
	s, err := w.JS.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	return m.Header.Get(event.HeaderTraceparent)
}

func TestFactsInCommandsOut(t *testing.T) {
	w := newWorld(t, worldOptions{})
	ctx := context.Background()

	// A polled order (REST shape), in the uk store: subsidiary 3, GBP.
	uk := w.place("uk", commercesim.OrderSpec{Buyer: commercesim.BuyerCustomer, Lines: []commercesim.LineSpec{{SKU: "MS09", Child: "MS09-L-Red", Qty: 2}, {SKU: "WB04", Qty: 1}}})
	polled := w.fact(event.CommerceFact{Kind: event.OrderPlaced, Store: "uk", ID: uk.IncrementID, DataSchema: event.SchemaRESTOrder,
		Raw: w.restOrder("uk", uk.EntityID)}, event.OriginPoll)
	cmd, m := w.command(event.KindSalesOrder, "order:uk:"+uk.IncrementID)
	checkCausation(t, m, polled, traceOf(t, w, event.StreamCommerce, polled.Seq))
	if m.Headers().Get(event.HeaderOrigin) != event.OriginPoll {
		t.Errorf("origin %q, want the fact's", m.Headers().Get(event.HeaderOrigin))
	}
	if cmd.Subsidiary != "3" || cmd.ExternalID != "mlc-so-uk-"+uk.IncrementID || cmd.Customer == nil || cmd.Totals == nil {
		t.Fatalf("command %+v", cmd)
	}
	var so struct {
		Currency, Location struct{ ID string }
		Item               struct {
			Items []struct {
				Item     struct{ ID string }
				Quantity decimal.Decimal
			}
		}
	}
	if err := json.Unmarshal(cmd.Record, &so); err != nil {
		t.Fatal(err)
	}
	// The configurable is one line (its child is not sent), the duffle another.
	if so.Currency.ID != "2" || so.Location.ID != "2" || len(so.Item.Items) != 2 || so.Item.Items[0].Item.ID != "102" ||
		!so.Item.Items[0].Quantity.Equal(decimal.NewFromInt(2)) || so.Item.Items[1].Item.ID != "104" {
		t.Errorf("sales order %s", cmd.Record)
	}
	if !cmd.Totals.CommerceTotal.Equal(uk.GrandTotal) || !cmd.Totals.Variance.IsZero() {
		t.Errorf("totals %+v, Commerce grand total %s", cmd.Totals, uk.GrandTotal)
	}

	// A webhook order: confirmed and completed through REST, then mapped.
	guest := w.place("default", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest, Email: "Guest@Example.com",
		Lines: []commercesim.LineSpec{{SKU: "24-WG088", Qty: 1}, {SKU: "24-UG06", Qty: 3}}})
	hooked := w.fact(event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: guest.IncrementID, DataSchema: event.SchemaWebhook,
		Raw: w.hook("sales_order_place_after", guest.IncrementID)}, event.OriginWebhook)
	gcmd, gm := w.command(event.KindSalesOrder, "order:default:"+guest.IncrementID)
	checkCausation(t, gm, hooked, traceOf(t, w, event.StreamCommerce, hooked.Seq))
	if gcmd.Subsidiary != "2" || gcmd.Customer.BuyerKey != event.BuyerKey(0, "guest@example.com") || !gcmd.Totals.Variance.IsZero() {
		t.Errorf("guest order command %+v", gcmd)
	}
	if !strings.Contains(string(gcmd.Record), `"item":{"id":"110"}`) || strings.Contains(string(gcmd.Record), `"id":"106"`) {
		t.Errorf("the bundle must be its kit (110), not its children: %s", gcmd.Record)
	}

	// The captured invoice of the uk order (REST shape, which names its order
	// by entity id only): by transform from the sales order.
	inv, err := w.sim.CaptureInvoice(ctx, uk.EntityID)
	if err != nil {
		t.Fatal(err)
	}
	invFact := w.fact(event.CommerceFact{Kind: event.InvoiceCaptured, Store: "uk", ID: inv.IncrementID, DataSchema: event.SchemaWebhook,
		Raw: w.hook("sales_order_invoice_save_after", inv.IncrementID)}, event.OriginWebhook)
	icmd, im := w.command(event.KindInvoice, "invoice:uk:"+inv.IncrementID)
	checkCausation(t, im, invFact, traceOf(t, w, event.StreamCommerce, invFact.Seq))
	if icmd.Invoice == nil || icmd.Invoice.Mode != event.InvoiceFromOrder || icmd.Invoice.SalesOrderExternalID != cmd.ExternalID ||
		icmd.Customer.ExternalID != cmd.Customer.ExternalID || icmd.Subsidiary != "3" || !icmd.Totals.Variance.IsZero() {
		t.Errorf("invoice command %+v", icmd)
	}

	// A new customer (webhook).
	c, err := w.sim.RegisterCustomer(ctx, "default", commercesim.CustomerSpec{Email: "zoe@example.com", Firstname: "Zoë", Lastname: "Kowalski"})
	if err != nil {
		t.Fatal(err)
	}
	key := event.BuyerKey(int64(c.ID), c.Email)
	w.fact(event.CommerceFact{Kind: event.CustomerCreated, Store: "default", ID: key, DataSchema: event.SchemaWebhook,
		Raw: w.hook("customer_register_success", strconv.Itoa(c.ID))}, event.OriginWebhook)
	ccmd, _ := w.command(event.KindCustomer, "customer:default:"+key)
	if ccmd.ExternalID != "mlc-cust-default-"+strconv.Itoa(c.ID) || ccmd.Subsidiary != "2" ||
		!strings.Contains(string(ccmd.Record), `"firstName":"Zoë"`) {
		t.Errorf("customer command %+v %s", ccmd, ccmd.Record)
	}
	if got := w.metric(`mlc_transform_facts_total{kind="order.placed",outcome="published"}`); got != 2 {
		t.Errorf("published orders metric %v, want 2", got)
	}

	// OneWorld by website: the uk store's website (2, looked up in Commerce)
	// decides the subsidiary of its orders and its customers.
	if err := connection.SaveNetSuiteSettings(ctx, w.kv.settings, connection.NetSuiteSettings{OneWorld: true,
		ByStore: map[string]string{"default": "2"}, ByWebsite: map[string]string{"2": "4"}}); err != nil {
		t.Fatal(err)
	}
	servicetest.WaitFor(t, "the new subsidiaries", func() bool { return strings.Count(w.svc.Logs.String(), "netsuite settings loaded") >= 2 })
	uk2 := w.place("uk", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest, Lines: []commercesim.LineSpec{{SKU: "24-UG06", Qty: 1}}})
	w.fact(event.CommerceFact{Kind: event.OrderPlaced, Store: "uk", ID: uk2.IncrementID, DataSchema: event.SchemaRESTOrder,
		Raw: w.restOrder("uk", uk2.EntityID)}, event.OriginPoll)
	if cmd, _ := w.command(event.KindSalesOrder, "order:uk:"+uk2.IncrementID); cmd.Subsidiary != "4" || !strings.Contains(string(cmd.Customer.Record), `"subsidiary":{"id":"4"}`) {
		t.Errorf("uk order by website: subsidiary %q, customer %s", cmd.Subsidiary, cmd.Customer.Record)
	}
	ukc, err := w.sim.RegisterCustomer(ctx, "uk", commercesim.CustomerSpec{})
	if err != nil {
		t.Fatal(err)
	}
	ukKey := event.BuyerKey(int64(ukc.ID), ukc.Email)
	w.fact(event.CommerceFact{Kind: event.CustomerCreated, Store: "uk", ID: ukKey, DataSchema: event.SchemaWebhook,
		Raw: w.hook("customer_register_success", strconv.Itoa(ukc.ID))}, event.OriginWebhook)
	if cmd, _ := w.command(event.KindCustomer, "customer:uk:"+ukKey); cmd.Subsidiary != "4" {
		t.Errorf("uk customer by website: subsidiary %q", cmd.Subsidiary)
	}
}

func TestUnknownSKUWaitsThenDeadLetters(t *testing.T) {
	w := newWorld(t, worldOptions{skipItems: []string{"WB04", "24-MB01"}})
	w.putItem("WB04", "104", false)                                                // inactive in NetSuite: never put on an order
	w.sim.AddProduct("TEE-M-RED", "Tee M Red", decimal.RequireFromString("19.99")) // sold in Commerce, unknown to NetSuite
	o := w.place("default", commercesim.OrderSpec{Buyer: commercesim.BuyerCustomer,
		Lines: []commercesim.LineSpec{{SKU: "TEE-M-RED", Qty: 2}, {SKU: "WB04", Qty: 1}, {SKU: "24-UG06", Qty: 1}}})
	start := time.Now()
	fact := w.fact(event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: o.IncrementID, DataSchema: event.SchemaRESTOrder,
		Raw: w.restOrder("default", o.EntityID)}, event.OriginPoll)
	m := w.Next(t, event.StreamDLQ, event.DLQSubject(event.CommerceSubject(event.OrderPlaced, "default")))
	waited := time.Since(start)
	dl, err := event.ReadDeadLetter(m.Subject(), m.Headers(), m.Data())
	if err != nil {
		t.Fatal(err)
	}
	if want := "order " + o.IncrementID + ": SKU WB04: its NetSuite item 104 is inactive; SKU TEE-M-RED has no NetSuite item"; dl.Reason != want {
		t.Errorf("reason %q, want %q", dl.Reason, want)
	}
	if dl.Attempts < 3 || waited < 2*time.Second {
		t.Errorf("dead-lettered after %d attempts and %v: it must wait (MLC_TRANSFORM_UNMAPPED_WAIT 2s) first", dl.Attempts, waited)
	}
	if dl.Seq != fact.Seq {
		t.Errorf("dead letter of seq %d, the fact is %d", dl.Seq, fact.Seq)
	}
	if got := w.metric(`mlc_transform_facts_total{kind="order.placed",outcome="unmappable"}`); got != 1 {
		t.Errorf("unmappable metric %v", got)
	}

	// The same gap filled during the wait (the inventory run adds the SKU):
	// the order maps.
	o2 := w.place("default", commercesim.OrderSpec{Buyer: commercesim.BuyerCustomer, Lines: []commercesim.LineSpec{{SKU: "24-MB01", Qty: 1}}})
	w.fact(event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: o2.IncrementID, DataSchema: event.SchemaRESTOrder,
		Raw: w.restOrder("default", o2.EntityID)}, event.OriginPoll)
	servicetest.WaitFor(t, "the order to wait for its SKU", func() bool {
		return w.metric(`mlc_transform_facts_total{kind="order.placed",outcome="waiting"}`) > float64(dl.Attempts)
	})
	w.putItem("24-MB01", "105", true)
	cmd, _ := w.command(event.KindSalesOrder, "order:default:"+o2.IncrementID)
	if !strings.Contains(string(cmd.Record), `"item":{"id":"105"}`) {
		t.Errorf("record %s", cmd.Record)
	}
}

func TestPhantomOrderReportedNotSent(t *testing.T) {
	w := newWorld(t, worldOptions{commitDelay: 300 * time.Millisecond})
	// Committed late: confirmed after a few lookups, then sent.
	late := w.place("default", commercesim.OrderSpec{Buyer: commercesim.BuyerCustomer, Lines: []commercesim.LineSpec{{SKU: "24-UG06", Qty: 1}}})
	// Rolled back after its webhook fired: a phantom.
	gone := w.place("default", commercesim.OrderSpec{Buyer: commercesim.BuyerCustomer, Lines: []commercesim.LineSpec{{SKU: "WB04", Qty: 1}}})
	if err := w.sim.RollbackOrder(gone.IncrementID); err != nil {
		t.Fatal(err)
	}
	w.fact(event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: late.IncrementID, DataSchema: event.SchemaWebhook,
		Raw: w.hook("sales_order_place_after", late.IncrementID)}, event.OriginWebhook)
	phantom := w.fact(event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: gone.IncrementID, DataSchema: event.SchemaWebhook,
		Raw: w.hook("sales_order_place_after", gone.IncrementID)}, event.OriginWebhook)

	w.command(event.KindSalesOrder, "order:default:"+late.IncrementID)
	m := w.Next(t, event.StreamSync, event.SyncSubject(false, event.KindSalesOrder))
	o, _, err := event.DecodeSyncOutcome(m.Data())
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != event.StatusPhantom || o.BusinessKey != "order:default:"+gone.IncrementID || o.Producer != transform.Name ||
		o.ExternalID != "mlc-so-default-"+gone.IncrementID || !strings.Contains(o.Error, "not visible through Commerce REST") {
		t.Errorf("outcome %+v", o)
	}
	if m.Headers().Get(event.HeaderCausation) != phantom.EventID || o.CommandID != phantom.EventID {
		t.Errorf("outcome caused by %q (command id %q), want the fact %q", m.Headers().Get(event.HeaderCausation), o.CommandID, phantom.EventID)
	}
	// The phantom outcome comes after every lookup: had a command been sent
	// it would be on NETSUITE by now.
	if n := w.Count(t, event.StreamNetSuite, event.NetSuiteSubject(event.KindSalesOrder)); n != 1 {
		t.Errorf("%d sales order commands, want only the committed order's", n)
	}
	// Counted once the handler has returned, which is after the outcome was
	// published: wait for it rather than race it.
	servicetest.WaitFor(t, "the phantom counted", func() bool {
		return w.metric(`mlc_transform_facts_total{kind="order.placed",outcome="phantom"}`) >= 1
	})
	if got := w.metric(`mlc_transform_facts_total{kind="order.placed",outcome="phantom"}`); got != 1 {
		t.Errorf("phantom metric %v", got)
	}
	if got := w.metric(`mlc_transform_facts_total{kind="order.placed",outcome="confirming"}`); got < 1 {
		t.Errorf("confirming metric %v: the late order should have been looked up more than once", got)
	}
}

func TestRedeliveryGivesTheSameCommand(t *testing.T) {
	w := newWorld(t, worldOptions{})
	o := w.place("default", commercesim.OrderSpec{Buyer: commercesim.BuyerCustomer, Discount: decimal.RequireFromString("3.33"),
		Lines: []commercesim.LineSpec{{SKU: "24-WG080", Qty: 3}, {SKU: "MS09", Child: "MS09-M-Red", Qty: 1}}})
	fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: o.IncrementID, DataSchema: event.SchemaWebhook,
		Raw: w.hook("sales_order_place_after", o.IncrementID)}
	w.fact(fact, event.OriginWebhook)
	first, _ := w.command(event.KindSalesOrder, "order:default:"+o.IncrementID)

	// The same fact delivered again (a replay of the webhook's copy, the
	// poll's REST copy past the COMMERCE duplicate window): every copy maps
	// to the same bytes, so NETSUITE keeps one command (same content hash,
	// same Nats-Msg-Id).
	w.copyOf(fact, event.OriginReplay, "replay:"+o.IncrementID)
	w.copyOf(event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: o.IncrementID, DataSchema: event.SchemaRESTOrder,
		Raw: w.restOrder("default", o.EntityID)}, event.OriginPoll, "poll-copy:"+o.IncrementID)
	servicetest.WaitFor(t, "both copies to be mapped", func() bool {
		return w.metric(`mlc_transform_facts_total{kind="order.placed",outcome="duplicate"}`) == 2
	})
	if n := w.Count(t, event.StreamNetSuite, event.NetSuiteSubject(event.KindSalesOrder)); n != 1 {
		t.Fatalf("%d commands for one order", n)
	}
	last := w.Last(t, event.StreamNetSuite, event.NetSuiteSubject(event.KindSalesOrder))
	cmd, _, err := event.DecodeNetSuiteCommand(last.Data)
	if err != nil {
		t.Fatal(err)
	}
	if string(cmd.Record) != string(first.Record) || cmd.MsgID() != first.MsgID() {
		t.Errorf("redelivered command differs")
	}
}

func TestMalformedFactDeadLetteredAtOnce(t *testing.T) {
	w := newWorld(t, worldOptions{})
	hdr := nats.Header{}
	hdr.Set(event.HeaderMsgID, "junk-1")
	w.Publish(t, event.CommerceSubject(event.OrderPlaced, "default"), hdr, []byte(`{"specversion":"1.0","id":"x"}`))
	m := w.Next(t, event.StreamDLQ, "dlq.commerce.>")
	dl, err := event.ReadDeadLetter(m.Subject(), m.Headers(), m.Data())
	if err != nil {
		t.Fatal(err)
	}
	if dl.Attempts != 1 || !strings.Contains(dl.Reason, "read commerce.order.placed.default") {
		t.Errorf("dead letter %+v", dl)
	}
}
