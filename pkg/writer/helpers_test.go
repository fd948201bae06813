package writer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/pkg/writer"
)

// testEnviron keeps retries and waits short; what they do, not how long
// they take, is under test.
var testEnviron = map[string]string{
	"MLC_WRITER_RETRY_BASE":     "20ms",
	"MLC_WRITER_RETRY_CAP":      "200ms",
	"MLC_WRITER_RETRY_ATTEMPTS": "6",
	"MLC_WRITER_REDELIVER_BASE": "50ms",
	"MLC_WRITER_REDELIVER_CAP":  "500ms",
	"MLC_WRITER_REQUEUE_GAP":    "300ms",
	"MLC_WRITER_BUDGET_CHECK":   "200ms",
}

// env is one test's JetStream, NetSuite simulator and writer settings.
type env struct {
	*servicetest.Env
	t   *testing.T
	pub *stream.Publisher
	ctx context.Context

	mu       sync.Mutex
	outcomes map[string]event.SyncOutcome // by external id: the last one read
	read     int
}

// subsidiary is the OneWorld subsidiary of the test store.
const subsidiary = "2"

func newEnv(t *testing.T, cfg netsuitesim.Config, set *writer.Settings) *env {
	t.Helper()
	cfg.OneWorld = true
	e := &env{Env: servicetest.New(t, servicetest.WithNetSuite(cfg)), t: t, outcomes: map[string]event.SyncOutcome{}}
	e.pub = stream.NewPublisher(e.JS)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e.ctx = ctx
	if set != nil {
		kv, err := e.JS.KeyValue(ctx, event.BucketSettings)
		if err != nil {
			t.Fatal(err)
		}
		if err := settings.New(kv).Save(ctx, writer.SettingsKey, set); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// settingsFor is a budget of n with no headroom: the writer may use the
// whole of the simulator's limit.
func settingsFor(n int) *writer.Settings {
	s := writer.NewSettings()
	s.Concurrency = n
	return s
}

// start runs a writer replica in this process and waits until it is ready.
func (e *env) start(extra ...map[string]string) *servicetest.Service {
	e.t.Helper()
	return e.Run(writer.Run, servicetest.Setenv(e.environ(extra...)))
}

// startUnready runs a replica expected not to be ready (no connection).
func (e *env) startUnready() *servicetest.Service {
	e.t.Helper()
	return e.Run(writer.Run, servicetest.Setenv(e.environ()), servicetest.Healthy())
}

func (e *env) environ(extra ...map[string]string) map[string]string {
	environ := map[string]string{}
	for k, v := range testEnviron {
		environ[k] = v
	}
	for _, m := range extra {
		for k, v := range m {
			environ[k] = v
		}
	}
	return environ
}

// publish puts commands on NETSUITE as transform does.
func (e *env) publish(cmds ...event.NetSuiteCommand) {
	e.t.Helper()
	for _, c := range cmds {
		if _, err := e.pub.Publish(e.ctx, c, stream.WithOrigin(event.OriginWebhook)); err != nil {
			e.t.Fatalf("publish %s: %v", c.ExternalID, err)
		}
	}
}

// waitOutcomes reads SYNC until n outcomes in total have been read.
func (e *env) waitOutcomes(n int) map[string]event.SyncOutcome {
	e.t.Helper()
	for e.read < n {
		m := e.Next(e.t, event.StreamSync, "sync.>")
		o, _, err := event.DecodeSyncOutcome(m.Data())
		if err != nil {
			e.t.Fatalf("SYNC message: %v", err)
		}
		e.mu.Lock()
		e.outcomes[o.ExternalID] = o
		e.read++
		e.mu.Unlock()
	}
	return e.outcomes
}

// deadLetters reads n DLQ letters.
func (e *env) deadLetters(n int) []event.DeadLetter {
	e.t.Helper()
	var out []event.DeadLetter
	for len(out) < n {
		m := e.Next(e.t, event.StreamDLQ, "dlq.>")
		d, err := event.ReadDeadLetter(m.Subject(), m.Headers(), m.Data())
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// buyer is a storefront buyer: a registered customer (id > 0) or a guest.
type buyer struct {
	id    int64
	first string
	last  string
	email string
}

func (b buyer) key() string { return event.BuyerKey(b.id, b.email) }

func (b buyer) ref(store string) *event.CustomerRef {
	ext, err := event.CustomerExternalID(store, b.key())
	if err != nil {
		panic(err)
	}
	rec, _ := json.Marshal(map[string]any{
		"isPerson": true, "firstName": b.first, "lastName": b.last, "email": b.email, "phone": "555-0100",
		"subsidiary": map[string]string{"id": subsidiary},
	})
	return &event.CustomerRef{BuyerKey: b.key(), ExternalID: ext, Email: b.email, Record: rec}
}

// line is an order line: a catalogue item (pkg/sim/catalog) and quantity.
type line struct {
	item  string
	qty   int
	price string
	name  string
}

var catalogue = []line{
	{"101", 1, "32.00", "Helios Tee M Red"}, {"102", 2, "32.00", "Helios Tee L Red"}, {"104", 1, "45.00", "Overnight Duffle"},
	{"105", 3, "34.00", "Joust Duffle Bag"}, {"106", 1, "14.00", "Sprite Yoga Strap 6 foot"}, {"108", 4, "7.00", "Affirm Water Bottle"},
}

// linesFor picks 1..3 lines for order number n.
func linesFor(n int) []line {
	k := 1 + n%3
	out := make([]line, 0, k)
	for i := 0; i < k; i++ {
		out = append(out, catalogue[(n+i*2)%len(catalogue)])
	}
	return out
}

// orderCommand is the sales order command transform would publish for
// Commerce order inc of buyer b (reference §5).
func orderCommand(store, inc string, b buyer, lines []line) event.NetSuiteCommand {
	ext, err := event.SalesOrderExternalID(store, inc)
	if err != nil {
		panic(err)
	}
	items := []map[string]any{}
	total := decimal.RequireFromString("5.00") // shipping
	for _, l := range lines {
		items = append(items, map[string]any{"item": map[string]string{"id": l.item}, "quantity": l.qty,
			"rate": json.Number(l.price), "description": l.name})
		total = total.Add(decimal.RequireFromString(l.price).Mul(decimal.NewFromInt(int64(l.qty))))
	}
	rec, _ := json.Marshal(map[string]any{
		"subsidiary": map[string]string{"id": subsidiary}, "currency": map[string]string{"id": "1"},
		"tranDate": "2024-05-01", "otherRefNum": inc, "memo": "Commerce order " + inc, "orderStatus": "B",
		"location": map[string]string{"id": "1"}, "shipMethod": map[string]string{"id": "4"}, "shippingCost": json.Number("5.00"),
		"shippingAddress": map[string]any{"addressee": b.first + " " + b.last, "addr1": "1 Main St", "city": "Austin",
			"state": "TX", "zip": "78701", "country": map[string]string{"id": "US"}, "addrPhone": "555-0100"},
		"item": map[string]any{"items": items},
	})
	return event.NetSuiteCommand{
		Kind: event.KindSalesOrder, Store: store, SourceID: inc, ExternalID: ext, Record: rec, Subsidiary: subsidiary,
		Customer: b.ref(store),
		Totals:   &event.Totals{Currency: "USD", CommerceTotal: total, NetSuiteTotal: total},
	}
}

// invoiceCommand bills order inc: by transform (the invoice copies the
// order's lines) or directly with its own lines (reference §7).
func invoiceCommand(store, inc string, b buyer, mode string, lines []line) event.NetSuiteCommand {
	so, _ := event.SalesOrderExternalID(store, inc)
	ext, err := event.InvoiceExternalID(store, inc)
	if err != nil {
		panic(err)
	}
	body := map[string]any{"tranDate": "2024-05-02", "otherRefNum": inc, "memo": "Commerce invoice " + inc}
	if mode == event.InvoiceDirect {
		items := []map[string]any{}
		for _, l := range lines {
			items = append(items, map[string]any{"item": map[string]string{"id": l.item}, "quantity": l.qty, "rate": json.Number(l.price)})
		}
		body["subsidiary"] = map[string]string{"id": subsidiary}
		body["item"] = map[string]any{"items": items}
	}
	rec, _ := json.Marshal(body)
	return event.NetSuiteCommand{
		Kind: event.KindInvoice, Store: store, SourceID: inc, ExternalID: ext, Record: rec, Subsidiary: subsidiary,
		Customer: b.ref(store),
		Invoice:  &event.InvoiceRef{Mode: mode, SalesOrderExternalID: so, OrderIncrementID: inc},
	}
}

// increment is a Commerce increment id.
func increment(n int) string { return fmt.Sprintf("%09d", 100000000+n) }

// records indexes the simulator's records of a type by external id.
func records(s *netsuitesim.Server, typ string) map[string]netsuitesim.Record {
	out := map[string]netsuitesim.Record{}
	for _, r := range s.Records(typ) {
		out[r.ExternalID] = r
	}
	return out
}

// lineCount is the number of item lines of a stored transaction.
func lineCount(r netsuitesim.Record) int {
	item, _ := r.Fields["item"].(map[string]any)
	items, _ := item["items"].([]any)
	return len(items)
}

func refID(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["id"].(string)
	return s
}

// consumerMaxAckPending reads the writer consumer's max_ack_pending.
func (e *env) consumerMaxAckPending() int {
	e.t.Helper()
	c, err := e.JS.Consumer(e.ctx, event.StreamNetSuite, event.DurableNetSuiteWriter)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := c.Info(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return info.Config.MaxAckPending
}
