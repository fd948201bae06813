package commercesim

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestCommitDelayAndRollback(t *testing.T) {
	s := NewTestServer(t, Config{CommitDelay: time.Hour})
	o := mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	phantom := mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	if err := s.RollbackOrder(phantom.IncrementID); err != nil {
		t.Fatal(err)
	}
	q := newSearch().filter(0, 0, "increment_id", o.IncrementID, "eq")
	if lr := list(t, s, "/V1/orders", q.Values); lr.Total != 0 {
		t.Fatal("order visible before commit")
	}
	if st, _ := call(t, s, "GET", "/V1/orders/"+itoa(o.EntityID), nil, nil); st != 404 {
		t.Fatalf("get before commit: %d", st)
	}
	s.SetClock(func() time.Time { return time.Now().Add(time.Hour + time.Second) })
	// OAuth timestamps are checked against the same (skewed) clock: sign in the future.
	req, _ := http.NewRequest("GET", s.StoreBaseURL("default")+"/V1/orders?searchCriteria=", nil)
	if err := SignOAuth1(req, s.Config().OAuth1, nonce(t), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	st, b := do(t, req)
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	var lr struct {
		Items []struct {
			IncrementID string `json:"increment_id"`
		} `json:"items"`
		TotalCount int `json:"total_count"`
	}
	if err := json.Unmarshal(b, &lr); err != nil {
		t.Fatal(err)
	}
	if lr.TotalCount != 1 || lr.Items[0].IncrementID != o.IncrementID {
		t.Fatalf("after commit: %s", b)
	}
}

// restOrder is the §7 order shape, decoded with exact numbers.
type restOrder struct {
	EntityID        int             `json:"entity_id"`
	IncrementID     string          `json:"increment_id"`
	CustomerID      *int            `json:"customer_id"`
	CustomerIsGuest int             `json:"customer_is_guest"`
	GrandTotal      decimal.Decimal `json:"grand_total"`
	Subtotal        decimal.Decimal `json:"subtotal"`
	TaxAmount       decimal.Decimal `json:"tax_amount"`
	DiscountAmount  decimal.Decimal `json:"discount_amount"`
	ShippingAmount  decimal.Decimal `json:"shipping_amount"`
	CreatedAt       string          `json:"created_at"`
	Items           []struct {
		ItemID       int             `json:"item_id"`
		SKU          string          `json:"sku"`
		ProductType  string          `json:"product_type"`
		ParentItemID int             `json:"parent_item_id"`
		Price        decimal.Decimal `json:"price"`
		RowTotal     decimal.Decimal `json:"row_total"`
	} `json:"items"`
	BillingAddress struct {
		AddressType string   `json:"address_type"`
		Street      []string `json:"street"`
	} `json:"billing_address"`
	Payment struct {
		Method string `json:"method"`
	} `json:"payment"`
	ExtensionAttributes struct {
		ShippingAssignments []struct {
			Shipping struct {
				Address struct {
					AddressType string `json:"address_type"`
				} `json:"address"`
				Method string `json:"method"`
				Total  struct {
					ShippingAmount decimal.Decimal `json:"shipping_amount"`
				} `json:"total"`
			} `json:"shipping"`
		} `json:"shipping_assignments"`
	} `json:"extension_attributes"`
}

func TestOrderRESTShapeAndTotals(t *testing.T) {
	s := NewTestServer(t, Config{Seed: 3})
	ctx := context.Background()
	cust, err := s.RegisterCustomer(ctx, "default", CustomerSpec{Email: "ann@example.com", Firstname: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	o := mustPlace(t, s, "default", OrderSpec{CustomerID: cust.ID, Discount: decimal.RequireFromString("10"),
		Lines: []LineSpec{{SKU: "MS09-M-Red", Qty: 1}, {SKU: "24-WG088", Qty: 2}, {SKU: "GC-50", Qty: 1}}})
	st, b := call(t, s, "GET", "/V1/orders/"+itoa(o.EntityID), nil, nil)
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	if strings.Contains(string(b), `"shipping_address"`) {
		t.Fatal("shipping address must only be under shipping_assignments")
	}
	var r restOrder
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.CustomerID == nil || *r.CustomerID != cust.ID || r.CustomerIsGuest != 0 || len(r.CreatedAt) != 19 {
		t.Fatalf("customer fields: %s", b)
	}
	if !r.DiscountAmount.Equal(decimal.NewFromInt(-10)) {
		t.Fatalf("discount %s", r.DiscountAmount)
	}
	if got := r.Subtotal.Add(r.TaxAmount).Add(r.DiscountAmount).Add(r.ShippingAmount); !got.Equal(r.GrandTotal) {
		t.Fatalf("totals do not add up: %s != %s", got, r.GrandTotal)
	}
	sum := decimal.Zero
	for _, it := range r.Items {
		if it.ParentItemID == 0 {
			sum = sum.Add(it.RowTotal)
		} else if !it.Price.IsZero() {
			t.Fatalf("child line with price: %+v", it)
		}
	}
	if !sum.Equal(r.Subtotal) {
		t.Fatalf("lines %s subtotal %s", sum, r.Subtotal)
	}
	// MS09-M-Red (configurable parent + child), bundle parent + 2 children, gift card.
	if len(r.Items) != 6 || r.Items[0].ProductType != "configurable" || r.Items[1].ParentItemID != r.Items[0].ItemID ||
		r.Items[1].SKU != "MS09-M-Red" || r.Items[2].ProductType != "bundle" || r.Items[5].ProductType != "virtual" {
		t.Fatalf("items %+v", r.Items)
	}
	sa := r.ExtensionAttributes.ShippingAssignments
	if len(sa) != 1 || sa[0].Shipping.Address.AddressType != "shipping" || sa[0].Shipping.Method != "flatrate_flatrate" ||
		!sa[0].Shipping.Total.ShippingAmount.Equal(decimal.NewFromInt(15)) || r.BillingAddress.AddressType != "billing" {
		t.Fatalf("shipping %+v", sa)
	}

	// Guests have no customer_id; virtual-only orders no shipping assignment.
	g := mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest, Lines: []LineSpec{{SKU: "GC-50", Qty: 1}}})
	_, b = call(t, s, "GET", "/V1/orders/"+itoa(g.EntityID), nil, nil)
	var gr restOrder
	if err := json.Unmarshal(b, &gr); err != nil {
		t.Fatal(err)
	}
	if gr.CustomerID != nil || gr.CustomerIsGuest != 1 || len(gr.ExtensionAttributes.ShippingAssignments) != 0 {
		t.Fatalf("guest virtual order: %s", b)
	}
}

func TestRandomOrdersAlwaysAddUp(t *testing.T) {
	s := NewTestServer(t, Config{Seed: 11})
	for range 100 {
		o := mustPlace(t, s, "uk", OrderSpec{})
		if got := o.Subtotal.Add(o.TaxAmount).Add(o.DiscountAmount).Add(o.ShippingAmount); !got.Equal(o.GrandTotal) || o.Currency != "GBP" {
			t.Fatalf("order %s: %s != %s", o.IncrementID, got, o.GrandTotal)
		}
	}
}

func TestInvoiceREST(t *testing.T) {
	s := NewTestServer(t, Config{})
	o := mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest, Lines: []LineSpec{{SKU: "WB04", Qty: 2}}})
	st, b := call(t, s, "POST", "/V1/order/"+itoa(o.EntityID)+"/invoice", nil, map[string]any{"capture": true, "notify": true})
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	var id int
	if err := json.Unmarshal(b, &id); err != nil || id <= 0 {
		t.Fatalf("invoice id %s", b)
	}
	if st, b := call(t, s, "POST", "/V1/order/"+itoa(o.EntityID)+"/invoice", nil, map[string]any{"capture": true}); st != 400 ||
		!strings.Contains(string(b), "does not allow an invoice") {
		t.Fatalf("second invoice: %d %s", st, b)
	}
	lr := list(t, s, "/V1/invoices", newSearch().filter(0, 0, "order_id", itoa(o.EntityID), "eq").filter(1, 0, "state", "2", "eq").Values)
	if lr.Total != 1 || int(lr.Items[0]["entity_id"].(float64)) != id {
		t.Fatalf("invoices %+v", lr)
	}
	_, b = call(t, s, "GET", "/V1/orders/"+itoa(o.EntityID), nil, nil)
	m := decode(t, b)
	if m["state"] != "processing" {
		t.Fatalf("order after invoice: %v", m["state"])
	}
	if st, _ := call(t, s, "GET", "/V1/invoices/"+itoa(id), nil, nil); st != 200 {
		t.Fatalf("get invoice %d", st)
	}
	if st, _ := call(t, s, "GET", "/V1/invoices/999", nil, nil); st != 404 {
		t.Fatalf("missing invoice %d", st)
	}
}

func TestCustomersREST(t *testing.T) {
	s := NewTestServer(t, Config{})
	c, err := s.RegisterCustomer(context.Background(), "uk", CustomerSpec{Email: "Zoe@Example.com", Firstname: "Zoë"})
	if err != nil {
		t.Fatal(err)
	}
	lr := list(t, s, "/V1/customers/search", newSearch().filter(0, 0, "email", "zoe@example.com", "eq").Values)
	if lr.Total != 1 || lr.Items[0]["firstname"] != "Zoë" || lr.Items[0]["website_id"].(float64) != 2 {
		t.Fatalf("%+v", lr)
	}
	if st, _ := call(t, s, "GET", "/V1/customers/"+itoa(c.ID), nil, nil); st != 200 {
		t.Fatalf("get %d", st)
	}
	if _, err := s.RegisterCustomer(context.Background(), "uk", CustomerSpec{Email: "zoe@example.com"}); err == nil {
		t.Fatal("duplicate email in website accepted")
	}
}

func TestRoutingErrorsAndLimits(t *testing.T) {
	s := NewTestServer(t, Config{})
	st, b := call(t, s, "GET", "/V1/nothing", nil, nil)
	if st != 404 || decode(t, b)["message"] != "Request does not match any route." {
		t.Fatalf("%d %s", st, b)
	}
	if st, _ := call(t, s, "DELETE", "/V1/orders", nil, nil); st != 404 {
		t.Fatalf("wrong method %d", st)
	}
	s.FailNext(1, 500)
	st, b = call(t, s, "GET", "/V1/orders", nil, nil)
	if st != 500 || !strings.Contains(string(b), "Report ID: webapi-") {
		t.Fatalf("%d %s", st, b)
	}

	rl := NewTestServer(t, Config{RateLimit: 2})
	got429 := false
	for range 5 {
		req, _ := http.NewRequest("GET", rl.StoreBaseURL("default")+"/V1/orders?searchCriteria=", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "" {
			got429 = true
		}
	}
	if !got429 {
		t.Fatal("no 429 with Retry-After")
	}
}

func TestConcurrentUse(t *testing.T) {
	rc := newReceiver(t, okAnswer)
	s := NewTestServer(t, Config{Webhooks: WebhookConfig{BaseURL: rc.srv.URL, DuplicateRate: 0.1}})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				o, err := s.PlaceOrder(context.Background(), []string{"default", "uk"}[w%2], OrderSpec{})
				if err != nil {
					t.Error(err)
					return
				}
				if w%3 == 0 {
					_, _ = s.CaptureInvoice(context.Background(), o.EntityID)
				}
				call(t, s, "GET", "/V1/orders", newSearch().page(5, 1).Values, nil)
				call(t, s, "POST", "/V1/products/base-prices", nil, map[string]any{"prices": []any{map[string]any{"sku": "WB04", "price": 40 + w}}})
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, o := range s.Orders() {
		if seen[o.IncrementID] {
			t.Fatalf("duplicate increment id %s", o.IncrementID)
		}
		seen[o.IncrementID] = true
	}
	if len(seen) != 80 || len(s.PriceWrites("WB04")) != 80 {
		t.Fatalf("%d orders, %d price writes", len(seen), len(s.PriceWrites("WB04")))
	}
}

func TestGeneratorAndInspect(t *testing.T) {
	rc := newReceiver(t, okAnswer)
	s := NewTestServer(t, Config{Webhooks: WebhookConfig{BaseURL: rc.srv.URL}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.RunGenerator(ctx, 100, "default"); err != nil {
		t.Fatal(err)
	}
	if len(s.Orders()) < 5 || len(s.Invoices()) == 0 {
		t.Fatalf("generator: %d orders %d invoices", len(s.Orders()), len(s.Invoices()))
	}
	resp, err := http.Post(s.URL()+"/_sim/orders", "application/json", strings.NewReader(`{"store":"uk","buyer":"guest","lines":[{"SKU":"WB04","Qty":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var o Order
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || resp.StatusCode != 200 || o.Store != "uk" {
		t.Fatalf("POST /_sim/orders: %d %v %+v", resp.StatusCode, err, o)
	}
	resp.Body.Close()
	for _, p := range []string{"deliveries", "orders", "price-writes", "stock-writes", "invoices", "customers", "requests"} {
		resp, err := http.Get(s.URL() + "/_sim/" + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("/_sim/%s: %v", p, err)
		}
		resp.Body.Close()
	}
}

func TestReturningCustomerByEmail(t *testing.T) {
	s := NewTestServer(t, Config{})
	ctx := context.Background()
	a, err := s.PlaceOrder(ctx, "default", OrderSpec{Buyer: BuyerCustomer, Email: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.PlaceOrder(ctx, "default", OrderSpec{Buyer: BuyerCustomer, Email: "ANN@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if a.CustomerID == 0 || a.CustomerID != b.CustomerID || len(s.Customers()) != 1 {
		t.Fatalf("customer ids %d %d, %d customers", a.CustomerID, b.CustomerID, len(s.Customers()))
	}
	// Another website: a new account.
	c, err := s.PlaceOrder(ctx, "uk", OrderSpec{Buyer: BuyerCustomer, Email: "ann@example.com"})
	if err != nil || c.CustomerID == a.CustomerID {
		t.Fatalf("uk: %v %d", err, c.CustomerID)
	}
	if st, _ := call(t, s, "GET", "/V1/orders/"+itoa(a.EntityID), nil, nil); st != 200 {
		t.Fatal(st)
	}
	req, _ := http.NewRequest("GET", s.StoreBaseURL("")+"/V1/orders/"+itoa(a.EntityID), nil)
	if err := SignOAuth1(req, s.Config().OAuth1, nonce(t), time.Now()); err != nil {
		t.Fatal(err)
	}
	if st, b := do(t, req); st != 200 {
		t.Fatalf("no store code: %d %s", st, b)
	}
}
