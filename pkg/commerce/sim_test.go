package commerce

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// fast keeps retries and bulk polling short in tests.
func fast() []Option {
	return []Option{WithRetries(3, 5*time.Millisecond, 50*time.Millisecond), WithBulkPollInterval(10 * time.Millisecond)}
}

func paasClient(t *testing.T, s *commercesim.Server, store string, creds OAuth1Credentials, opts ...OAuth1Option) *Client {
	t.Helper()
	auth, err := NewOAuth1(creds, opts...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(s.StoreBaseURL(store), PaaS, auth, fast()...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func simCreds() OAuth1Credentials { return OAuth1Credentials(commercesim.DefaultOAuth1()) }

func placeOrders(t *testing.T, s *commercesim.Server, n int) []commercesim.Order {
	t.Helper()
	out := make([]commercesim.Order, n)
	for i := range out {
		o, err := s.PlaceOrder(t.Context(), "default", commercesim.OrderSpec{})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = o
	}
	return out
}

func TestSimOAuth1(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 1})
	placed := placeOrders(t, s, 2)
	c := paasClient(t, s, "default", simCreds())
	ctx := t.Context()

	o, err := c.GetOrder(ctx, int64(placed[0].EntityID))
	if err != nil {
		t.Fatal(err)
	}
	if o.IncrementID != placed[0].IncrementID || !o.GrandTotal.Equal(placed[0].GrandTotal) || len(o.Items) == 0 {
		t.Fatalf("order %+v, placed %+v", o, placed[0])
	}
	if placed[0].ShippingAddress != nil && o.ShippingAddress() == nil {
		t.Fatal("shipping address not read from extension_attributes")
	}
	byInc, err := c.GetOrderByIncrementID(ctx, placed[1].IncrementID)
	if err != nil || int(byInc.EntityID) != placed[1].EntityID {
		t.Fatalf("by increment id: %+v %v", byInc, err)
	}
	if _, err := c.GetOrderByIncrementID(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown increment id: %v", err)
	}
	var e *Error
	if _, err := c.GetOrder(ctx, 999999); !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || e.Rendered == "" || strings.Contains(e.Rendered, "%") {
		t.Fatalf("unknown entity: %v", err)
	}

	wrong := simCreds()
	wrong.AccessTokenSecret = "not-the-secret"
	bad := paasClient(t, s, "default", wrong)
	_, err = bad.GetOrder(ctx, int64(placed[0].EntityID))
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "signature is invalid") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestSimBearer(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 2})
	placed := placeOrders(t, s, 1)
	c := paasClient(t, s, "default", simCreds(), OAuth1Bearer(true))
	_, err := c.GetOrder(t.Context(), int64(placed[0].EntityID))
	var e *Error
	if !errors.As(err, &e) || e.Status != 401 || e.Hint == "" ||
		!strings.Contains(err.Error(), "Allow OAuth Access Tokens to be used as standalone Bearer tokens") ||
		!strings.Contains(err.Error(), "Magento_Sales::actions_view") {
		t.Fatalf("bearer refused: %v", err)
	}

	on := commercesim.NewTestServer(t, commercesim.Config{Seed: 2, BearerEnabled: true})
	placed = placeOrders(t, on, 1)
	c = paasClient(t, on, "default", simCreds(), OAuth1Bearer(true))
	if _, err := c.GetOrder(t.Context(), int64(placed[0].EntityID)); err != nil {
		t.Fatalf("bearer enabled: %v", err)
	}
}

func TestSimIMS(t *testing.T) {
	var offset atomic.Int64
	s := commercesim.NewTestServer(t, commercesim.Config{Flavour: commercesim.SaaS, Seed: 3})
	s.SetClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) })
	placed := placeOrders(t, s, 3)
	ic := s.Config().IMS
	ims, err := NewIMS(IMSCredentials{ClientID: ic.ClientID, ClientSecret: ic.ClientSecret, OrgID: ic.OrgID, TokenURL: s.URL() + "/ims/token/v3"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(s.StoreBaseURL("default"), SaaS, ims, fast()...)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 30 {
		wg.Go(func() {
			_, err := c.GetOrder(t.Context(), int64(placed[i%3].EntityID))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := ims.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests for 30 calls, want 1", n)
	}
	// The simulator's clock passes the token's expiry: the 401 drops it and
	// the call succeeds with a new token.
	offset.Store(int64(25 * time.Hour))
	if _, err := c.GetOrder(t.Context(), int64(placed[0].EntityID)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := ims.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests after expiry, want 2", n)
	}

	badSecret, _ := NewIMS(IMSCredentials{ClientID: ic.ClientID, ClientSecret: "wrong", OrgID: ic.OrgID, TokenURL: s.URL() + "/ims/token/v3"})
	bc, _ := New(s.StoreBaseURL("default"), SaaS, badSecret, fast()...)
	if _, err := bc.GetOrder(t.Context(), 1); !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("bad IMS secret: %v", err)
	}
	wrongOrg, _ := NewIMS(IMSCredentials{ClientID: ic.ClientID, ClientSecret: ic.ClientSecret, OrgID: "other@AdobeOrg", TokenURL: s.URL() + "/ims/token/v3"})
	wc, _ := New(s.StoreBaseURL("default"), SaaS, wrongOrg, fast()...)
	if _, err := wc.GetOrder(t.Context(), 1); !errors.Is(err, ErrForbidden) {
		t.Fatalf("wrong org: %v", err)
	}
}

func TestSimPollOrders(t *testing.T) {
	var offset atomic.Int64
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 4, InputLimits: true})
	s.SetClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) })
	placed := placeOrders(t, s, 250)
	c := paasClient(t, s, "all", simCreds())
	until := time.Now().Add(time.Hour)

	seen := map[string]int{}
	pages := 0
	var last Cursor
	cur, err := c.PollOrders(t.Context(), Cursor{}, PollOptions{PageSize: 20, Until: until}, func(_ context.Context, page []Order, next Cursor) error {
		pages++
		if len(page) > 20 {
			t.Errorf("page of %d", len(page))
		}
		for _, o := range page {
			seen[o.IncrementID]++
		}
		last = next
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 250 || pages != 13 {
		t.Fatalf("%d orders in %d pages, want 250 in 13", len(seen), pages)
	}
	for inc, n := range seen {
		if n != 1 {
			t.Fatalf("%s seen %d times", inc, n)
		}
	}
	if cur != last || cur.EntityID != int64(placed[249].EntityID) {
		t.Fatalf("cursor %v, last page %v, last order %d", cur, last, placed[249].EntityID)
	}

	// Nothing new: one request, no page.
	again, err := c.PollOrders(t.Context(), cur, PollOptions{PageSize: 20, Until: until}, func(context.Context, []Order, Cursor) error {
		t.Fatal("no page expected")
		return nil
	})
	if err != nil || again != cur {
		t.Fatalf("idle poll: %v %v", again, err)
	}

	// A later status change of an early order is seen once.
	offset.Store(int64(2 * time.Minute))
	if err := s.UpdateOrderStatus(t.Context(), placed[3].EntityID, "processing"); err != nil {
		t.Fatal(err)
	}
	var changed []string
	cur, err = c.PollOrders(t.Context(), cur, PollOptions{PageSize: 20, Until: until.Add(time.Hour)}, func(_ context.Context, page []Order, _ Cursor) error {
		for _, o := range page {
			changed = append(changed, o.IncrementID)
		}
		return nil
	})
	if err != nil || len(changed) != 1 || changed[0] != placed[3].IncrementID || cur.EntityID != int64(placed[3].EntityID) {
		t.Fatalf("changed %v cursor %v err %v", changed, cur, err)
	}

	// The Until bound excludes what is newer.
	n := 0
	if _, err := c.PollOrders(t.Context(), Cursor{}, PollOptions{PageSize: 20, Until: time.Now().Add(-time.Hour)}, func(_ context.Context, p []Order, _ Cursor) error {
		n += len(p)
		return nil
	}); err != nil || n != 0 {
		t.Fatalf("until in the past: %d orders, %v", n, err)
	}

	// A stop from the handler keeps the cursor before that page.
	stop := errors.New("stop")
	got, err := c.PollOrders(t.Context(), Cursor{}, PollOptions{PageSize: 20, Until: until.Add(time.Hour)}, func(context.Context, []Order, Cursor) error { return stop })
	if !errors.Is(err, stop) || got != (Cursor{}) {
		t.Fatalf("handler error: %v %v", got, err)
	}
}

func TestSimWalkOrders(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 5})
	placeOrders(t, s, 250)
	c := paasClient(t, s, "all", simCreds())

	// Commerce clamps an out-of-range page: page 100 repeats the last page.
	res, err := c.ListOrders(t.Context(), SearchCriteria{}.OrderBy("entity_id", "ASC").Page(20, 100))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) == 0 || res.TotalCount != 250 {
		t.Fatalf("page 100: %d items, total %d (want the repeated last page)", len(res.Items), res.TotalCount)
	}

	before := len(s.Requests())
	seen := map[int64]bool{}
	err = c.WalkOrders(t.Context(), SearchCriteria{}.OrderBy("entity_id", "ASC").Page(20, 0), func(_ context.Context, page []Order) error {
		for _, o := range page {
			if seen[int64(o.EntityID)] {
				t.Errorf("order %d twice", o.EntityID)
			}
			seen[int64(o.EntityID)] = true
		}
		return nil
	})
	if err != nil || len(seen) != 250 {
		t.Fatalf("walk: %d orders, %v", len(seen), err)
	}
	if n := len(s.Requests()) - before; n != 13 {
		t.Fatalf("walk made %d requests, want 13", n)
	}

	// A filtered walk stops by total_count too.
	n := 0
	err = c.WalkOrders(t.Context(), SearchCriteria{}.Where(F("entity_id", CondLteq, "45")).OrderBy("entity_id", "ASC").Page(20, 0),
		func(_ context.Context, page []Order) error { n += len(page); return nil })
	if err != nil || n != 45 {
		t.Fatalf("filtered walk: %d, %v", n, err)
	}
}

func TestSimInvoices(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 6})
	placed := placeOrders(t, s, 5)
	var invs []commercesim.Invoice
	for _, o := range placed {
		inv, err := s.CaptureInvoice(t.Context(), o.EntityID)
		if err != nil {
			t.Fatal(err)
		}
		invs = append(invs, inv)
	}
	c := paasClient(t, s, "all", simCreds())
	inv, err := c.GetInvoice(t.Context(), int64(invs[0].EntityID))
	if err != nil || inv.IncrementID != invs[0].IncrementID || !inv.Captured() || int(inv.OrderID) != placed[0].EntityID {
		t.Fatalf("invoice %+v %v", inv, err)
	}
	var got []string
	cur, err := c.PollInvoices(t.Context(), Cursor{}, PollOptions{PageSize: 2, Until: time.Now().Add(time.Hour)}, func(_ context.Context, p []Invoice, _ Cursor) error {
		for _, i := range p {
			got = append(got, i.IncrementID)
		}
		return nil
	})
	if err != nil || len(got) != 5 || cur.EntityID != int64(invs[4].EntityID) {
		t.Fatalf("poll invoices %v %v %v", got, cur, err)
	}
	n := 0
	if err := c.WalkInvoices(t.Context(), SearchCriteria{}.Page(2, 0), func(_ context.Context, p []Invoice) error { n += len(p); return nil }); err != nil || n != 5 {
		t.Fatalf("walk invoices %d %v", n, err)
	}
}

func TestSimCustomers(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 7})
	cu, err := s.RegisterCustomer(t.Context(), "default", commercesim.CustomerSpec{})
	if err != nil {
		t.Fatal(err)
	}
	c := paasClient(t, s, "all", simCreds())
	got, err := c.GetCustomer(t.Context(), int64(cu.ID))
	if err != nil || got.Email != cu.Email {
		t.Fatalf("customer %+v %v", got, err)
	}
	res, err := c.SearchCustomers(t.Context(), SearchCriteria{}.Where(F("email", CondEq, cu.Email)).Page(10, 1))
	if err != nil || len(res.Items) != 1 || int(res.Items[0].ID) != cu.ID {
		t.Fatalf("search %+v %v", res, err)
	}
}

var catalogSKUs = []string{"MS09-M-Red", "MS09-L-Red", "MS09-M-Blue", "WB04", "24-MB01", "24-WG085", "24-WG080", "24-UG06"}

func TestSimPrices(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 8, InputLimits: true})
	c := paasClient(t, s, "all", simCreds())
	ctx := t.Context()

	if err := c.UpdateProductPrice(ctx, "WB04", decimal.RequireFromString("49.95")); err != nil {
		t.Fatal(err)
	}
	if w := s.PriceWrites("WB04"); len(w) != 1 || !w[0].Price.Equal(decimal.RequireFromString("49.95")) {
		t.Fatalf("price writes %+v", w)
	}
	var e *Error
	if err := c.UpdateProductPrice(ctx, "WB04", decimal.NewFromInt(-1)); !errors.Is(err, ErrBadRequest) || !errors.As(err, &e) ||
		e.Message != "Invalid product data: %1" || e.Rendered != "Invalid product data: Product price must be greater than or equal to 0" {
		t.Fatalf("negative price: %v", err)
	}

	// 25 rows: two chunks under the input limit; two unknown SKUs.
	var rows []BasePrice
	for i := range 23 {
		rows = append(rows, BasePrice{SKU: catalogSKUs[i%len(catalogSKUs)], Price: decimal.New(int64(1000+i), -2)})
	}
	rows = append(rows, BasePrice{SKU: "NOPE-1", Price: decimal.NewFromInt(1)}, BasePrice{SKU: "NOPE-2", Price: decimal.NewFromInt(2)})
	err := c.UpdateBasePrices(ctx, rows)
	var pf *PartialFailureError
	if !errors.Is(err, ErrPartialFailure) || !errors.As(err, &pf) {
		t.Fatalf("base prices: %v", err)
	}
	if got := strings.Join(pf.SKUs(), ","); got != "NOPE-1,NOPE-2" || pf.Total != 25 ||
		pf.Failures[0].Rendered != "Requested product doesn't exist: NOPE-1" || !strings.Contains(err.Error(), "NOPE-2") {
		t.Fatalf("failures %+v: %v", pf.Failures, err)
	}
	last := rows[22]
	if p, ok := s.ProductPrice(last.SKU, 0); !ok || !p.Equal(last.Price) {
		t.Fatalf("%s price %v, want %v", last.SKU, p, last.Price)
	}
	if err := c.UpdateBasePrices(ctx, rows[:3]); err != nil {
		t.Fatalf("all good: %v", err)
	}
}

func TestSimStock(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 9, InputLimits: true})
	c := paasClient(t, s, "all", simCreds())
	ctx := t.Context()
	var items []SourceItem
	for i := range 30 {
		items = append(items, SourceItem{SKU: catalogSKUs[i%len(catalogSKUs)], SourceCode: "default", Quantity: decimal.NewFromInt(int64(i)), InStock: i > 0})
	}
	if err := c.UpdateSourceItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	if q, ok := s.SourceQuantity(items[29].SKU, "default"); !ok || !q.Equal(decimal.NewFromInt(29)) {
		t.Fatalf("%s quantity %v", items[29].SKU, q)
	}
	err := c.UpdateSourceItems(ctx, []SourceItem{{SKU: "NOPE", SourceCode: "default", Quantity: decimal.NewFromInt(1), InStock: true}})
	var pf *PartialFailureError
	if !errors.As(err, &pf) || len(pf.Failures) != 1 || pf.Failures[0].SKU != "NOPE" ||
		!strings.Contains(err.Error(), `Product with SKU "NOPE" does not exist.`) {
		t.Fatalf("unknown SKU: %v", err)
	}

	if err := c.UpdateLegacyStock(ctx, "WB04", decimal.NewFromInt(7), true); err != nil {
		t.Fatal(err)
	}
	si, err := c.GetStockItem(ctx, "WB04")
	if err != nil || !si.Qty.Equal(decimal.NewFromInt(7)) || !bool(si.IsInStock) {
		t.Fatalf("stock item %+v %v", si, err)
	}
	if len(s.StockWrites("WB04")) == 0 {
		t.Fatal("no stock write recorded")
	}
	if err := c.UpdateLegacyStock(ctx, "NOPE", decimal.NewFromInt(1), true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("legacy unknown SKU: %v", err)
	}
}

func TestSimBulk(t *testing.T) {
	for _, fl := range []commercesim.Flavour{commercesim.PaaS, commercesim.SaaS} {
		t.Run(string(fl), func(t *testing.T) {
			s := commercesim.NewTestServer(t, commercesim.Config{Seed: 10, Flavour: fl})
			var c *Client
			if fl == commercesim.SaaS {
				ic := s.Config().IMS
				ims, _ := NewIMS(IMSCredentials{ClientID: ic.ClientID, ClientSecret: ic.ClientSecret, OrgID: ic.OrgID, TokenURL: s.URL() + "/ims/token/v3"})
				c, _ = New(s.StoreBaseURL("default"), SaaS, ims, fast()...)
			} else {
				c = paasClient(t, s, "all", simCreds())
			}
			ctx := t.Context()
			s.StopBulkConsumer()
			acc, err := c.BulkUpdatePrices(ctx, []BasePrice{{SKU: "WB04", Price: decimal.RequireFromString("44.5")}, {SKU: "24-MB01", Price: decimal.NewFromInt(30)}})
			if err != nil || acc.BulkUUID == "" || len(acc.RequestItems) != 2 {
				t.Fatalf("bulk: %+v %v", acc, err)
			}
			short, cancel := context.WithTimeout(ctx, 60*time.Millisecond)
			st, err := c.WaitBulk(short, acc.BulkUUID)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || st.Done() {
				t.Fatalf("consumer stopped: %+v %v", st, err)
			}
			if len(s.PriceWrites("WB04")) != 0 {
				t.Fatal("processed while the consumer was stopped")
			}
			s.StartBulkConsumer()
			st, err = c.WaitBulk(ctx, acc.BulkUUID)
			if err != nil || !st.Done() || len(st.Operations) != 2 {
				t.Fatalf("bulk done: %+v %v", st, err)
			}
			if w := s.PriceWrites("WB04"); len(w) != 1 || !w[0].Price.Equal(decimal.RequireFromString("44.5")) {
				t.Fatalf("price writes %+v", w)
			}

			acc, err = c.BulkUpdatePrices(ctx, []BasePrice{{SKU: "NOPE", Price: decimal.NewFromInt(1)}, {SKU: "WB04", Price: decimal.NewFromInt(2)}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.WaitBulk(ctx, acc.BulkUUID)
			var be *BulkError
			if !errors.Is(err, ErrBulkFailed) || !errors.As(err, &be) || len(be.Failed) != 1 || be.Total != 2 {
				t.Fatalf("bulk with unknown SKU: %v", err)
			}

			acc, err = c.BulkUpdateSourceItems(ctx, []SourceItem{{SKU: "WB04", SourceCode: "default", Quantity: decimal.NewFromInt(3), InStock: true}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.WaitBulk(ctx, acc.BulkUUID); err != nil {
				t.Fatal(err)
			}
			if q, _ := s.SourceQuantity("WB04", "default"); !q.Equal(decimal.NewFromInt(3)) {
				t.Fatalf("bulk source item quantity %v", q)
			}
		})
	}
}

func TestSimRetries(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 11})
	placed := placeOrders(t, s, 1)
	c := paasClient(t, s, "all", simCreds())
	ctx := t.Context()

	s.FailNext(2, http.StatusServiceUnavailable)
	if _, err := c.GetOrder(ctx, int64(placed[0].EntityID)); err != nil {
		t.Fatalf("503 twice then OK: %v", err)
	}
	s.FailNext(10, http.StatusBadGateway)
	if _, err := c.GetOrder(ctx, int64(placed[0].EntityID)); !errors.Is(err, ErrServer) {
		t.Fatalf("502 beyond the retry budget: %v", err)
	}
	s.FailNext(10, 0) // clear
	s.FailNext(1, http.StatusInternalServerError)
	var e *Error
	err := c.UpdateBasePrices(ctx, []BasePrice{{SKU: "WB04", Price: decimal.NewFromInt(1)}})
	if !errors.As(err, &e) || e.Status != 500 || !strings.HasPrefix(e.ReportID, "webapi-") {
		t.Fatalf("500 on a write is not retried: %v", err)
	}
}

func TestSimRateLimit(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 12, RateLimit: 2})
	placed := placeOrders(t, s, 1)
	c := paasClient(t, s, "all", simCreds())
	// Calls until the simulator has limited one (a burst can straddle a
	// one-second window on a slow machine); every call must still succeed.
	limited := 0
	for i := 0; i < 30 && limited == 0; i++ {
		if _, err := c.GetOrder(t.Context(), int64(placed[0].EntityID)); err != nil {
			t.Fatalf("rate limited call not retried: %v", err)
		}
		for _, r := range s.Requests() {
			if r.Status == http.StatusTooManyRequests {
				limited++
			}
		}
	}
	if limited == 0 {
		t.Fatal("the simulator never limited; the test proves nothing")
	}

	auth, _ := NewOAuth1(simCreds())
	impatient, _ := New(s.StoreBaseURL("all"), PaaS, auth, WithMaxRetryAfter(0))
	var err error
	for range 30 {
		if _, err = impatient.GetOrder(t.Context(), int64(placed[0].EntityID)); err != nil {
			break
		}
	}
	var e *Error
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &e) || e.RetryAfter != "1" {
		t.Fatalf("Retry-After beyond the limit goes back to the caller: %v", err)
	}
}

func TestSimPollRaw(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 14})
	placed := placeOrders(t, s, 3)
	if _, err := s.CaptureInvoice(t.Context(), placed[0].EntityID); err != nil {
		t.Fatal(err)
	}
	c := paasClient(t, s, "all", simCreds())
	opt := PollOptions{PageSize: 2, Until: time.Now().Add(time.Hour)}
	var incs []string
	if _, err := c.PollOrdersRaw(t.Context(), Cursor{}, opt, func(_ context.Context, page []Raw[Order], _ Cursor) error {
		for _, r := range page {
			o, err := DecodeOrderPlaced([]byte(`{"order":` + string(r.Bytes) + `}`))
			if err != nil || o.IncrementID != r.Value.IncrementID {
				t.Errorf("raw bytes %s do not match %s: %v", r.Bytes, r.Value.IncrementID, err)
			}
			incs = append(incs, r.Value.IncrementID)
		}
		return nil
	}); err != nil || len(incs) != 3 {
		t.Fatalf("raw orders %v %v", incs, err)
	}
	n := 0
	if _, err := c.PollInvoicesRaw(t.Context(), Cursor{}, opt, func(_ context.Context, page []Raw[Invoice], _ Cursor) error {
		for _, r := range page {
			if !r.Value.Captured() || !strings.Contains(string(r.Bytes), r.Value.IncrementID) {
				t.Errorf("raw invoice %s", r.Bytes)
			}
			n++
		}
		return nil
	}); err != nil || n != 1 {
		t.Fatalf("raw invoices %d %v", n, err)
	}
}

func TestSimStoreIDAndStoreFilteredPoll(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 3})
	c := paasClient(t, s, "uk", simCreds())
	ctx := context.Background()
	for _, store := range []string{"default", "uk", "default", "uk", "uk"} {
		if _, err := s.PlaceOrder(ctx, store, commercesim.OrderSpec{}); err != nil {
			t.Fatal(err)
		}
	}
	id, err := c.StoreID(ctx, "uk")
	if err != nil || id != 2 {
		t.Fatalf("StoreID(uk) = %d, %v", id, err)
	}
	if _, err := c.StoreID(ctx, "nowhere"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown store: %v", err)
	}
	var got []string
	_, err = c.PollOrders(ctx, Cursor{}, PollOptions{Until: time.Now().Add(time.Second),
		Where: [][]Filter{{F("store_id", CondEq, strconv.FormatInt(id, 10))}}},
		func(_ context.Context, page []Order, _ Cursor) error {
			for _, o := range page {
				if o.StoreID != 2 {
					t.Errorf("order %s of store %d in a uk poll", o.IncrementID, o.StoreID)
				}
				got = append(got, o.IncrementID)
			}
			return nil
		})
	if err != nil || len(got) != 3 {
		t.Fatalf("uk poll: %v %v", got, err)
	}
}
