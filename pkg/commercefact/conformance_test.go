package commercefact

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// capture is the receiving end of the simulator's webhooks and I/O Events
// deliveries: it keeps every body byte-for-byte, by path.
type capture struct {
	mu     sync.Mutex
	bodies map[string][][]byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.bodies[r.URL.Path] = append(c.bodies[r.URL.Path], raw)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"op":"success"}`)
}

func (c *capture) find(t testing.TB, path string, match func([]byte) bool) []byte {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var found [][]byte
	for _, b := range c.bodies[path] {
		if match(b) {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d bodies on %s match, want 1", len(found), path)
	}
	return found[0]
}

// world is the simulator with a receiver, a REST client and the stores
// under test.
type world struct {
	t   testing.TB
	sim *commercesim.Server
	rcv *capture
	cli *commerce.Client
}

func testStores() []commercesim.Store {
	return []commercesim.Store{
		{Code: "default", ID: 1, WebsiteID: 1, Currency: "USD", Name: "Default Store View"},
		{Code: "uk", ID: 2, WebsiteID: 2, Currency: "GBP", Name: "UK Store View"},
		{Code: "en_us", ID: 3, WebsiteID: 1, Currency: "USD", Name: "English (US)"},
		{Code: "us.east", ID: 4, WebsiteID: 3, Currency: "USD", Name: "US East"},
	}
}

func newWorld(t testing.TB) *world {
	t.Helper()
	rcv := &capture{bodies: map[string][][]byte{}}
	hs := httptest.NewServer(rcv)
	t.Cleanup(hs.Close)
	sim := commercesim.NewTestServer(t, commercesim.Config{
		Seed:     42,
		Stores:   testStores(),
		Webhooks: commercesim.WebhookConfig{BaseURL: hs.URL + "/hooks", Mode: "none", Timeout: 5 * time.Second},
		IOEvents: commercesim.IOEventsConfig{URL: hs.URL + "/io", RetrySchedule: []time.Duration{}, Timeout: 5 * time.Second},
	})
	t.Cleanup(sim.CloseIdleConnections)
	auth, err := commerce.NewOAuth1(commerce.OAuth1Credentials(commercesim.DefaultOAuth1()))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := commerce.New(sim.StoreBaseURL("default"), commerce.PaaS, auth,
		commerce.WithRetries(2, 5*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, sim: sim, rcv: rcv, cli: cli}
}

func (w *world) waitIO() {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 20*time.Second)
	defer cancel()
	if err := w.sim.WaitIOEvents(ctx); err != nil {
		w.t.Fatal(err)
	}
	for _, d := range w.sim.IOEventDeliveries() {
		if !d.Delivered {
			w.t.Fatalf("I/O event %s %s not delivered: %s", d.Event, d.Key, d.Outcome)
		}
	}
}

// message wraps raw data in an envelope as ingest publishes it.
type message struct {
	subject string
	hdr     nats.Header
	data    []byte
}

// wrap builds the message the way ingest publishes a fact: through the
// shared publish helper.
func wrap(t testing.TB, kind, store, id, origin, schema string, raw []byte) message {
	t.Helper()
	msg, _, err := stream.NewPublisher(nil).Build(event.CommerceFact{Kind: kind, Store: store, ID: id, DataSchema: schema, Raw: raw},
		stream.WithOrigin(origin))
	if err != nil {
		t.Fatal(err)
	}
	return message{subject: msg.Subject, hdr: msg.Header, data: msg.Data}
}

func (m message) read(t *testing.T) Fact {
	t.Helper()
	f, err := Read(m.subject, m.hdr, m.data)
	if err != nil {
		t.Fatalf("read %s: %v", m.subject, err)
	}
	return f
}

// content is a fact without its provenance.
func content(f Fact) Fact {
	f.Source = Source{}
	return f
}

// without is the fact as a shape lacking parts would carry it.
func without(f Fact, ps []Part) Fact {
	c := clone(f)
	for _, p := range ps {
		clearPart(&c, p)
	}
	c.Missing = sortParts(ps)
	return c
}

// clone deep-copies what clearPart changes.
func clone(f Fact) Fact {
	addr := func(a *Address) *Address {
		if a == nil {
			return nil
		}
		c := *a
		return &c
	}
	if f.Order != nil {
		o := *f.Order
		o.Lines = slices.Clone(o.Lines)
		o.BillingAddress, o.ShippingAddress = addr(o.BillingAddress), addr(o.ShippingAddress)
		f.Order = &o
	}
	if f.Invoice != nil {
		inv := *f.Invoice
		inv.Lines = slices.Clone(inv.Lines)
		f.Invoice = &inv
	}
	if f.Customer != nil {
		c := *f.Customer
		c.Addresses = slices.Clone(c.Addresses)
		f.Customer = &c
	}
	f.Missing = slices.Clone(f.Missing)
	return f
}

// sameContent fails the test with a readable diff when the contents of
// got and want differ.
func sameContent(t *testing.T, what string, got, want Fact) {
	t.Helper()
	got, want = content(got), content(want)
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
	var diff []string
	for i := 0; i < max(len(gl), len(wl)) && len(diff) < 12; i++ {
		var a, b string
		if i < len(gl) {
			a = gl[i]
		}
		if i < len(wl) {
			b = wl[i]
		}
		if a != b {
			diff = append(diff, fmt.Sprintf("line %d:\n   got %s\n  want %s", i+1, strings.TrimSpace(a), strings.TrimSpace(b)))
		}
	}
	if len(diff) == 0 {
		diff = append(diff, "(same JSON: a decimal or time differs in representation)")
	}
	t.Errorf("%s: got != want:\n%s", what, strings.Join(diff, "\n"))
}

func parts(ps ...Part) []Part { return ps }

// Ground truth: the canonical facts built from the simulator's own records,
// independent of every decoder under test.

func norm(d decimal.Decimal) decimal.Decimal { return d.Normalize() }

func simAddress(a commercesim.Address, customer bool) *Address {
	out := &Address{Firstname: a.Firstname, Lastname: a.Lastname, Company: a.Company, Street: a.Street, City: a.City,
		Region: a.Region, RegionCode: a.RegionCode, RegionID: int64(a.RegionID), Postcode: a.Postcode, CountryID: a.CountryID,
		Telephone: a.Telephone, Email: a.Email}
	if customer {
		out.ID, out.Email = int64(a.ID), ""
	}
	return out
}

func simPaymentTitle(method string) string {
	if method == "checkmo" {
		return "Check / Money order"
	}
	return "Credit Card (" + method + ")"
}

func simOrderFact(store string, o commercesim.Order) Fact {
	want := &Order{
		IncrementID: o.IncrementID, EntityID: int64(o.EntityID), StoreID: int64(o.StoreID),
		CreatedAt: o.CreatedAt.Truncate(time.Second).UTC(), UpdatedAt: o.UpdatedAt.Truncate(time.Second).UTC(),
		State: o.State, Status: o.Status, Currency: o.Currency,
		Customer: Buyer{ID: int64(o.CustomerID), Guest: o.CustomerIsGuest, Email: o.CustomerEmail, Firstname: o.CustomerFirstname,
			Lastname: o.CustomerLastname, GroupID: int64(o.CustomerGroupID)},
		BillingAddress: simAddress(o.BillingAddress, false),
		Shipping:       Shipping{Method: o.ShippingMethod, Description: o.ShippingDescription},
		Totals: Totals{Subtotal: norm(o.Subtotal), Discount: norm(o.DiscountAmount), Tax: norm(o.TaxAmount),
			Shipping: norm(o.ShippingAmount), GrandTotal: norm(o.GrandTotal)},
		Payment: Payment{Method: o.PaymentMethod, Title: simPaymentTitle(o.PaymentMethod)},
	}
	if o.CustomerIsGuest {
		want.Customer.ID = 0
	}
	want.BuyerKey = event.BuyerKey(want.Customer.ID, o.CustomerEmail)
	if o.ShippingAddress != nil {
		want.ShippingAddress = simAddress(*o.ShippingAddress, false)
	}
	for _, it := range o.Items {
		want.Lines = append(want.Lines, Line{ItemID: int64(it.ItemID), ParentItemID: int64(it.ParentItemID), SKU: it.SKU,
			Name: it.Name, ProductType: it.ProductType, Qty: norm(it.QtyOrdered), Price: norm(it.Price),
			OriginalPrice: norm(it.OriginalPrice), RowTotal: norm(it.RowTotal), DiscountAmount: norm(it.DiscountAmount),
			TaxAmount: norm(it.TaxAmount), TaxPercent: norm(it.TaxPercent)})
	}
	return Fact{Kind: event.OrderPlaced, Store: store, Order: want}
}

func simInvoiceFact(store string, inv commercesim.Invoice) Fact {
	want := &Invoice{IncrementID: inv.IncrementID, EntityID: int64(inv.EntityID), OrderID: int64(inv.OrderID),
		OrderIncrementID: inv.OrderIncrementID, StoreID: int64(inv.StoreID), State: inv.State,
		CreatedAt: inv.CreatedAt.Truncate(time.Second).UTC(), UpdatedAt: inv.UpdatedAt.Truncate(time.Second).UTC(),
		Currency: inv.Currency,
		Totals: Totals{Subtotal: norm(inv.Subtotal), Discount: norm(inv.DiscountAmount), Tax: norm(inv.TaxAmount),
			Shipping: norm(inv.ShippingAmount), GrandTotal: norm(inv.GrandTotal)}}
	for _, it := range inv.Items {
		want.Lines = append(want.Lines, InvoiceLine{OrderItemID: int64(it.OrderItemID), SKU: it.SKU, Qty: norm(it.Qty),
			Price: norm(it.Price), RowTotal: norm(it.RowTotal), TaxAmount: norm(it.TaxAmount), DiscountAmount: norm(it.DiscountAmount)})
	}
	return Fact{Kind: event.InvoiceCaptured, Store: store, Invoice: want}
}

func simCustomerFact(store string, c commercesim.Customer) Fact {
	want := &Customer{ID: int64(c.ID), Email: c.Email, Firstname: c.Firstname, Lastname: c.Lastname,
		BuyerKey: strconv.Itoa(c.ID), GroupID: int64(c.GroupID), WebsiteID: int64(c.WebsiteID), StoreID: int64(c.StoreID),
		CreatedAt: c.CreatedAt.Truncate(time.Second).UTC(), UpdatedAt: c.UpdatedAt.Truncate(time.Second).UTC()}
	for _, a := range c.Addresses {
		want.Addresses = append(want.Addresses, *simAddress(a, true))
	}
	if len(c.Addresses) > 0 {
		want.DefaultBillingID, want.DefaultShippingID = int64(c.Addresses[0].ID), int64(c.Addresses[0].ID)
	}
	return Fact{Kind: event.CustomerCreated, Store: store, Customer: want}
}

// What each shape of the simulator lacks (the assertions that the reader
// says so).
func webhookOrderGaps() []Part {
	return parts(PartEntityID, PartTimestamps, PartLineIDs, PartLineParents, PartRegionCode, PartCoupon)
}

func ioOrderGaps() []Part {
	return parts(PartCustomerGroup, PartLineParents, PartLineAmounts, PartBillingAddress, PartShippingAddress,
		PartShipping, PartCoupon, PartPayment, PartPaymentTitle)
}

type orderCase struct {
	name  string
	store string
	spec  commercesim.OrderSpec
}

func TestConformanceThreeShapesOneFact(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	start := time.Now().UTC()

	addr := &commercesim.Address{Firstname: "Zoë", Lastname: "O'Brien & <Søn>", Company: "Tom & Jerry <b> \"Ltd\"",
		Street: []string{"1 Main St", "Apt 4/B"}, City: "Austin", Region: "Texas", RegionCode: "TX", RegionID: 57,
		Postcode: "78701", CountryID: "US", Telephone: "555-0100"}
	c1, err := w.sim.RegisterCustomer(ctx, "default", commercesim.CustomerSpec{Email: "ann@example.com", Firstname: "Ann",
		Lastname: "Smith", Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := w.sim.RegisterCustomer(ctx, "default", commercesim.CustomerSpec{Email: "bob@example.com", GroupID: 2})
	if err != nil {
		t.Fatal(err)
	}
	c3, err := w.sim.RegisterCustomer(ctx, "uk", commercesim.CustomerSpec{Firstname: "Siobhán", Lastname: "Øster",
		Address: &commercesim.Address{Firstname: "Siobhán", Lastname: "Øster", Street: []string{"10 Downing St"}, City: "London",
			Region: "London", Postcode: "SW1A 2AA", CountryID: "GB", Telephone: "+44 20 7946 0000"}})
	if err != nil {
		t.Fatal(err)
	}

	cases := []orderCase{
		{"simple", "default", commercesim.OrderSpec{Lines: []commercesim.LineSpec{{SKU: "24-MB01", Qty: 2}}, CustomerID: c1.ID, NoDiscount: true}},
		{"configurable", "default", commercesim.OrderSpec{Lines: []commercesim.LineSpec{{SKU: "MS09", Qty: 1, Child: "MS09-L-Red"}},
			Buyer: commercesim.BuyerGuest, NoDiscount: true}},
		{"bundle", "default", commercesim.OrderSpec{Lines: []commercesim.LineSpec{{SKU: "24-WG088", Qty: 2}}, Buyer: commercesim.BuyerGuest, NoDiscount: true}},
		{"discounted", "default", commercesim.OrderSpec{Lines: []commercesim.LineSpec{{SKU: "WB04", Qty: 1}, {SKU: "24-UG06", Qty: 3}},
			CustomerID: c2.ID, Discount: decimal.RequireFromString("10.37")}},
		{"guest with odd text", "default", commercesim.OrderSpec{Lines: []commercesim.LineSpec{{SKU: "24-WG080", Qty: 1}},
			Buyer: commercesim.BuyerGuest, Email: "Zoë.O'Brien+tag@Example.com", Firstname: "Zoë", Lastname: "O'Brien & <Søn>",
			Address: addr, PaymentMethod: "braintree", NoDiscount: true}},
		{"virtual only", "default", commercesim.OrderSpec{Lines: []commercesim.LineSpec{{SKU: "GC-50", Qty: 1}}, Buyer: commercesim.BuyerGuest, NoDiscount: true}},
		{"uk store", "uk", commercesim.OrderSpec{Lines: []commercesim.LineSpec{{SKU: "MS09", Qty: 1, Child: "MS09-M-Blue"},
			{SKU: "24-WG088", Qty: 1}, {SKU: "24-MB01", Qty: 1}}, CustomerID: c3.ID, Discount: decimal.RequireFromString("3")}},
		{"en_us store, child sku", "en_us", commercesim.OrderSpec{Lines: []commercesim.LineSpec{{SKU: "MS09-M-Red", Qty: 2},
			{SKU: "24-WG085", Qty: 1}}, CustomerID: c1.ID, NoDiscount: true}},
		{"us.east store, everything", "us.east", commercesim.OrderSpec{Lines: []commercesim.LineSpec{{SKU: "MS09", Qty: 3, Child: "MS09-M-Red"},
			{SKU: "24-WG088", Qty: 1}, {SKU: "GC-50", Qty: 2}, {SKU: "24-UG06", Qty: 1}}, Buyer: commercesim.BuyerGuest,
			Discount: decimal.RequireFromString("12.34")}},
	}
	placed := map[string]commercesim.Order{}
	for _, c := range cases {
		o, err := w.sim.PlaceOrder(ctx, c.store, c.spec)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		placed[c.name] = o
	}
	w.waitIO()

	// The REST shape as the backfill poll reads it.
	restOrders := map[string][]byte{}
	_, err = w.cli.PollOrdersRaw(ctx, commerce.Cursor{UpdatedAt: start.Add(-time.Minute)},
		commerce.PollOptions{Until: time.Now().Add(time.Hour), PageSize: 4},
		func(_ context.Context, page []commerce.Raw[commerce.Order], _ commerce.Cursor) error {
			for _, r := range page {
				restOrders[r.Value.IncrementID] = r.Bytes
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	completer := NewCompleter(w.cli)

	for _, c := range cases {
		t.Run("order/"+c.name, func(t *testing.T) {
			o := placed[c.name]
			restRaw, ok := restOrders[o.IncrementID]
			if !ok {
				t.Fatalf("order %s not found by the poll", o.IncrementID)
			}
			hook := w.rcv.find(t, "/hooks/order-placed", func(b []byte) bool {
				op, err := commerce.DecodeOrderPlaced(b)
				return err == nil && op.IncrementID == o.IncrementID
			})
			ioBody := w.rcv.find(t, "/io", func(b []byte) bool {
				ev, err := commerce.DecodeIOEvent(b)
				if err != nil || ioKind(ev.EventName()) != event.OrderPlaced {
					return false
				}
				op, err := ev.Order()
				return err == nil && op.IncrementID == o.IncrementID
			})
			rest := wrap(t, event.OrderPlaced, c.store, o.IncrementID, event.OriginPoll, event.SchemaRESTOrder, restRaw).read(t)
			web := wrap(t, event.OrderPlaced, c.store, o.IncrementID, event.OriginWebhook, event.SchemaWebhook, hook).read(t)
			ioe := wrap(t, event.OrderPlaced, c.store, o.IncrementID, event.OriginIOEvents, event.SchemaIOEvent, ioBody).read(t)

			// The REST fact is the simulator's order, field for field.
			if !rest.Complete() || rest.Source.Shape != ShapeREST {
				t.Fatalf("REST fact misses %v (shape %s)", rest.Missing, rest.Source.Shape)
			}
			sameContent(t, "REST fact vs the simulator's order", rest, simOrderFact(c.store, o))

			// Each shape carries what it says it carries, and says what it lacks.
			if web.Source.Shape != ShapeWebhook || web.Source.CommerceEvent != "sales_order_place_after" {
				t.Errorf("webhook source %+v", web.Source)
			}
			if !slices.Equal(web.Missing, sortParts(webhookOrderGaps())) {
				t.Errorf("webhook misses %v, want %v", web.Missing, sortParts(webhookOrderGaps()))
			}
			sameContent(t, "webhook fact vs the REST fact", web, without(rest, web.Missing))
			if ioe.Source.Shape != ShapeIOEvent || ioe.Source.IOEventID == "" {
				t.Errorf("I/O Events source %+v", ioe.Source)
			}
			if !slices.Equal(ioe.Missing, sortParts(ioOrderGaps())) {
				t.Errorf("I/O event misses %v, want %v", ioe.Missing, sortParts(ioOrderGaps()))
			}
			sameContent(t, "I/O Events fact vs the REST fact", ioe, without(rest, ioe.Missing))

			// Completed through REST, all three are the same fact.
			for _, f := range []Fact{web, ioe, rest} {
				done, err := completer.Complete(ctx, f)
				if err != nil {
					t.Fatalf("complete %s: %v", f.Source.Shape, err)
				}
				if !done.Complete() || done.Source.Shape != f.Source.Shape || done.Source.Completed == f.Complete() {
					t.Errorf("completed %s: missing %v, source %+v", f.Source.Shape, done.Missing, done.Source)
				}
				sameContent(t, "completed "+string(f.Source.Shape)+" fact", done, rest)
			}
		})
	}
	if t.Failed() {
		return
	}

	// Invoices: captured after the orders were compared (capturing moves
	// an order to processing and bumps its updated_at).
	invoiced := map[string]commercesim.Invoice{}
	for _, name := range []string{"simple", "configurable", "bundle", "discounted", "virtual only", "uk store", "us.east store, everything"} {
		inv, err := w.sim.CaptureInvoice(ctx, placed[name].EntityID)
		if err != nil {
			t.Fatalf("invoice %s: %v", name, err)
		}
		invoiced[name] = inv
	}
	w.waitIO()
	restInvoices := map[string][]byte{}
	_, err = w.cli.PollInvoicesRaw(ctx, commerce.Cursor{UpdatedAt: start.Add(-time.Minute)},
		commerce.PollOptions{Until: time.Now().Add(time.Hour)},
		func(_ context.Context, page []commerce.Raw[commerce.Invoice], _ commerce.Cursor) error {
			for _, r := range page {
				restInvoices[r.Value.IncrementID+"@"+strconv.Itoa(int(r.Value.StoreID))] = r.Bytes
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for name, inv := range invoiced {
		t.Run("invoice/"+name, func(t *testing.T) {
			store := placed[name].Store
			restRaw, ok := restInvoices[inv.IncrementID+"@"+strconv.Itoa(inv.StoreID)]
			if !ok {
				t.Fatalf("invoice %s not found by the poll", inv.IncrementID)
			}
			hook := w.rcv.find(t, "/hooks/invoice-captured", func(b []byte) bool {
				is, err := commerce.DecodeInvoiceSaved(b)
				return err == nil && is.IncrementID == inv.IncrementID && is.StoreID == int64(inv.StoreID)
			})
			ioBody := w.rcv.find(t, "/io", func(b []byte) bool {
				ev, err := commerce.DecodeIOEvent(b)
				if err != nil || ioKind(ev.EventName()) != event.InvoiceCaptured {
					return false
				}
				is, err := ev.Invoice()
				return err == nil && is.IncrementID == inv.IncrementID && is.StoreID == int64(inv.StoreID)
			})
			rest := wrap(t, event.InvoiceCaptured, store, inv.IncrementID, event.OriginPoll, event.SchemaRESTInvoice, restRaw).read(t)
			web := wrap(t, event.InvoiceCaptured, store, inv.IncrementID, event.OriginWebhook, event.SchemaWebhook, hook).read(t)
			ioe := wrap(t, event.InvoiceCaptured, store, inv.IncrementID, event.OriginIOEvents, event.SchemaIOEvent, ioBody).read(t)

			if !slices.Equal(rest.Missing, parts(PartOrderIncrementID)) {
				t.Fatalf("REST invoice misses %v, want [order_increment_id]", rest.Missing)
			}
			ref, err := completer.Complete(ctx, rest)
			if err != nil {
				t.Fatal(err)
			}
			sameContent(t, "completed REST invoice vs the simulator's", ref, simInvoiceFact(store, inv))
			if !ref.Invoice.Captured() {
				t.Errorf("captured invoice has state %d", ref.Invoice.State)
			}
			if !web.Complete() {
				t.Errorf("webhook invoice misses %v", web.Missing)
			}
			sameContent(t, "webhook invoice", web, ref)
			wantIO := parts(PartOrderIncrementID, PartLineAmounts, PartTotals)
			if !slices.Equal(ioe.Missing, wantIO) {
				t.Errorf("I/O event invoice misses %v, want %v", ioe.Missing, wantIO)
			}
			sameContent(t, "I/O Events invoice", ioe, without(ref, ioe.Missing))
			for _, f := range []Fact{web, ioe} {
				done, err := completer.Complete(ctx, f)
				if err != nil {
					t.Fatalf("complete %s: %v", f.Source.Shape, err)
				}
				sameContent(t, "completed "+string(f.Source.Shape)+" invoice", done, ref)
			}
		})
	}

	// Customers: no REST shape travels on the stream; the Completer's REST
	// read is the reference.
	for _, c := range []commercesim.Customer{c1, c2, c3} {
		t.Run("customer/"+c.Email, func(t *testing.T) {
			hook := w.rcv.find(t, "/hooks/customer-created", func(b []byte) bool {
				cc, err := commerce.DecodeCustomerCreated(b)
				return err == nil && cc.ID == int64(c.ID)
			})
			ioBody := w.rcv.find(t, "/io", func(b []byte) bool {
				ev, err := commerce.DecodeIOEvent(b)
				if err != nil || ioKind(ev.EventName()) != event.CustomerCreated {
					return false
				}
				cc, err := ev.Customer()
				return err == nil && cc.ID == int64(c.ID)
			})
			var raw json.RawMessage
			if err := w.cli.Do(ctx, http.MethodGet, "V1/customers/"+strconv.Itoa(c.ID), nil, nil, &raw); err != nil {
				t.Fatal(err)
			}
			var rc commerce.Customer
			if err := json.Unmarshal(raw, &rc); err != nil {
				t.Fatal(err)
			}
			ref, err := CustomerFact(c.Store, rc)
			if err != nil || !ref.Complete() {
				t.Fatalf("REST customer: %v, missing %v", err, ref.Missing)
			}
			sameContent(t, "REST customer vs the simulator's", ref, simCustomerFact(c.Store, c))

			key := strconv.Itoa(c.ID)
			web := wrap(t, event.CustomerCreated, c.Store, key, event.OriginWebhook, event.SchemaWebhook, hook).read(t)
			ioe := wrap(t, event.CustomerCreated, c.Store, key, event.OriginIOEvents, event.SchemaIOEvent, ioBody).read(t)
			var wantWeb []Part
			if len(c.Addresses) > 0 {
				wantWeb = parts(PartRegionCode, PartAddressDefaults)
			}
			if !slices.Equal(web.Missing, wantWeb) {
				t.Errorf("webhook customer misses %v, want %v", web.Missing, wantWeb)
			}
			sameContent(t, "webhook customer", web, without(ref, web.Missing))
			if !slices.Equal(ioe.Missing, parts(PartAddresses)) {
				t.Errorf("I/O event customer misses %v, want [addresses]", ioe.Missing)
			}
			sameContent(t, "I/O Events customer", ioe, without(ref, ioe.Missing))
			for _, f := range []Fact{web, ioe} {
				done, err := completer.Complete(ctx, f)
				if err != nil {
					t.Fatalf("complete %s: %v", f.Source.Shape, err)
				}
				sameContent(t, "completed "+string(f.Source.Shape)+" customer", done, ref)
			}
		})
	}
}
