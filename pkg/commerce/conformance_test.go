package commerce

// The client's conformance suite: one set of tests that every Commerce REST
// implementation the client talks to must pass (watermill style), run
// against the simulator (pkg/sim/commercesim) and against a scripted server
// answering with the bodies of shared/reference/adobe-commerce.md
// (conformance_transcript_test.go). The suite drives the client and records
// the wire, so both what the client sends and what the backend answers are
// held to the reference.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// cBackend is one running Commerce implementation (PaaS, OAuth 1.0a).
type cBackend struct {
	BaseURL string // everything before V1
	Creds   OAuth1Credentials
	Fix     cFixture
	// Fail makes the next n API calls answer status.
	Fail func(n, status int)
}

// cFixture is the data the backend holds.
type cFixture struct {
	OrderIDs       []int64 // every visible order's entity_id, ascending (4: two full pages of 2)
	Order          cOrder  // one order with a configurable parent and its child line
	InvoiceID      int64   // a captured invoice (state 2) of Order
	KnownSKU       string  // a product that exists
	UnknownSKU     string  // one that does not
	BearerResource string  // the ACL resource the refused-bearer 401 names
}

type cOrder struct {
	EntityID       int64
	IncrementID    string
	GrandTotal     decimal.Decimal
	Lines          int
	ShippingMethod string
}

func runCommerceConformance(t *testing.T, newBackend func(t *testing.T) *cBackend) {
	tests := []struct {
		name string
		fn   func(*testing.T, *cEnv)
	}{
		{"OAuth1OrderObject", testCOrderObject},
		{"SearchAndLastPageRepeat", testCSearch},
		{"InvoiceIntegerState", testCInvoice},
		{"BasePricesPartialFailure", testCBasePrices},
		{"Async202", testCAsync},
		{"ErrorListParameters", testCErrorList},
		{"Bearer401MapParameters", testCBearer401},
		{"NotFound", testCNotFound},
		{"ServerErrors", testCServerErrors},
		{"WrongSecret", testCWrongSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			e := newCEnv(t, b)
			tt.fn(t, e)
			checkCWire(t, e.rec)
		})
	}
}

type cEnv struct {
	b   *cBackend
	rec *cRecorder
	c   *Client
	ctx context.Context
}

func newCEnv(t *testing.T, b *cBackend, opts ...OAuth1Option) *cEnv {
	t.Helper()
	rec := &cRecorder{next: http.DefaultTransport}
	auth, err := NewOAuth1(b.Creds, opts...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(b.BaseURL, PaaS, auth, append(fast(), WithHTTPClient(&http.Client{Transport: rec, Timeout: 20 * time.Second}))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &cEnv{b: b, rec: rec, c: c, ctx: ctx}
}

// cExchange is one recorded request and its answer.
type cExchange struct {
	Method   string
	URL      *url.URL
	Header   http.Header
	Body     []byte
	Status   int
	RespBody []byte
}

type cRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	log  []cExchange
}

func (rec *cRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
		out.Body = io.NopCloser(bytes.NewReader(body))
	}
	ex := cExchange{Method: r.Method, URL: r.URL, Header: r.Header.Clone(), Body: body}
	resp, err := rec.next.RoundTrip(out)
	if err == nil {
		rb, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(rb))
		ex.Status, ex.RespBody, err = resp.StatusCode, rb, rerr
	}
	rec.mu.Lock()
	rec.log = append(rec.log, ex)
	rec.mu.Unlock()
	return resp, err
}

func (rec *cRecorder) exchanges() []cExchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]cExchange(nil), rec.log...)
}

func (rec *cRecorder) last() cExchange {
	x := rec.exchanges()
	return x[len(x)-1]
}

var oauthParam = regexp.MustCompile(`(oauth_[a-z_]+)="([^"]*)"`)

// checkCWire holds every exchange to §12 (a fresh OAuth 1.0a HMAC-SHA256
// header per request) and §14 (errors are {"message", "parameters"?}).
func checkCWire(t *testing.T, rec *cRecorder) {
	t.Helper()
	nonces := map[string]bool{}
	for i, x := range rec.exchanges() {
		where := x.Method + " " + x.URL.Path
		if h := x.Header.Get("Authorization"); strings.HasPrefix(h, "OAuth ") {
			p := map[string]string{}
			for _, m := range oauthParam.FindAllStringSubmatch(h, -1) {
				p[m[1]] = m[2]
			}
			if len(p) != 7 || p["oauth_signature_method"] != "HMAC-SHA256" || p["oauth_version"] != "1.0" || len(p["oauth_nonce"]) < 16 {
				t.Errorf("#%d %s: OAuth header %v", i, where, p)
			}
			if nonces[p["oauth_nonce"]] {
				t.Errorf("#%d %s: nonce reused", i, where)
			}
			nonces[p["oauth_nonce"]] = true
		}
		if x.Body != nil && x.Header.Get("Content-Type") != "application/json" {
			t.Errorf("#%d %s: Content-Type %q", i, where, x.Header.Get("Content-Type"))
		}
		if x.Status >= 400 {
			var eb struct {
				Message    string          `json:"message"`
				Parameters json.RawMessage `json:"parameters"`
			}
			if err := json.Unmarshal(x.RespBody, &eb); err != nil || eb.Message == "" {
				t.Errorf("#%d %s: %d body is not Commerce's error shape: %s", i, where, x.Status, x.RespBody)
			}
			if p := bytes.TrimSpace(eb.Parameters); len(p) > 0 && p[0] != '[' && p[0] != '{' {
				t.Errorf("#%d %s: parameters neither list nor map: %s", i, where, p)
			}
		}
	}
}

var zoneless = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)

// testCOrderObject: §7 through GetOrder, and the raw shape.
func testCOrderObject(t *testing.T, e *cEnv) {
	want := e.b.Fix.Order
	o, err := e.c.GetOrder(e.ctx, want.EntityID)
	if err != nil {
		t.Fatal(err)
	}
	if int64(o.EntityID) != want.EntityID || o.IncrementID != want.IncrementID || !o.GrandTotal.Equal(want.GrandTotal) ||
		len(o.Items) != want.Lines || o.ShippingMethod() != want.ShippingMethod || o.CreatedAt.IsZero() || o.UpdatedAt.IsZero() {
		t.Errorf("order %+v, want %+v", o, want)
	}
	lines := map[int64]OrderItem{}
	for _, it := range o.Items {
		lines[int64(it.ItemID)] = it
	}
	children := 0
	for _, it := range o.Items {
		if it.ParentItemID != 0 {
			children++
			if p, ok := lines[int64(it.ParentItemID)]; !ok || p.ProductType != "configurable" || p.SKU != it.SKU || !it.Price.IsZero() {
				t.Errorf("child line %+v, parent %+v (ref §7: the parent carries the price, same SKU)", it, p)
			}
		}
	}
	if children == 0 {
		t.Error("no child line: the fixture needs a configurable product")
	}
	if o.BillingAddress == nil || o.BillingAddress.AddressType != "billing" || len(o.BillingAddress.Street) == 0 {
		t.Errorf("billing address %+v", o.BillingAddress)
	}
	if sa := o.ShippingAddress(); sa == nil || sa.AddressType != "shipping" {
		t.Errorf("shipping address %+v (only under extension_attributes.shipping_assignments)", sa)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(e.rec.last().RespBody, &raw); err != nil {
		t.Fatal(err)
	}
	if _, has := raw["shipping_address"]; has {
		t.Error("top-level shipping_address: REST has it only in shipping assignments")
	}
	for _, k := range []string{"created_at", "updated_at"} {
		var s string
		if json.Unmarshal(raw[k], &s) != nil || !zoneless.MatchString(s) {
			t.Errorf("%s = %s, want zone-less YYYY-MM-DD HH:MM:SS", k, raw[k])
		}
	}
	if !isJSONNumber(raw["entity_id"]) || !isJSONNumber(raw["grand_total"]) || !strings.HasPrefix(string(raw["increment_id"]), `"`) {
		t.Errorf("entity_id %s grand_total %s increment_id %s", raw["entity_id"], raw["grand_total"], raw["increment_id"])
	}
}

func isJSONNumber(b json.RawMessage) bool {
	var n json.Number
	return len(b) > 0 && b[0] != '"' && json.Unmarshal(b, &n) == nil
}

// testCSearch: §8 envelope, searchCriteria signed as query parameters, the
// last-page repeat, and a walk that ends by total_count.
func testCSearch(t *testing.T, e *cEnv) {
	want := e.b.Fix.Order
	res, err := e.c.ListOrders(e.ctx, SearchCriteria{}.Where(F("increment_id", CondEq, want.IncrementID)).Page(10, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 || int64(res.Items[0].EntityID) != want.EntityID || res.TotalCount != 1 || !bytes.Contains(res.SearchCriteria, []byte("filter_groups")) {
		t.Errorf("search by increment_id: %d items, total %d, search_criteria %s", len(res.Items), res.TotalCount, res.SearchCriteria)
	}
	if q := e.rec.last().URL.RawQuery; !strings.Contains(q, "searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bfield%5D=increment_id") {
		t.Errorf("query %s", q)
	}
	ids := e.b.Fix.OrderIDs
	const size = 2
	lastPage := ids[(len(ids)-1)/size*size:]
	res, err = e.c.ListOrders(e.ctx, SearchCriteria{}.OrderBy("entity_id", "ASC").Page(size, 100))
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, o := range res.Items {
		got = append(got, int64(o.EntityID))
	}
	if res.TotalCount != len(ids) || !equalIDs(got, lastPage) {
		t.Errorf("page 100: ids %v total %d, want the last page %v again and total %d", got, res.TotalCount, lastPage, len(ids))
	}
	// Whole pages only: the walk must stop by total_count, not ask for a
	// page past the end (which repeats the last one). Then a short last page.
	for _, size := range []int{len(ids) / 2, len(ids) - 1} {
		before := len(e.rec.exchanges())
		got = nil
		err = e.c.WalkOrders(e.ctx, SearchCriteria{}.OrderBy("entity_id", "ASC").Page(size, 0), func(_ context.Context, page []Order) error {
			for _, o := range page {
				got = append(got, int64(o.EntityID))
			}
			return nil
		})
		if err != nil || !equalIDs(got, ids) {
			t.Errorf("walk by %d: %v %v, want %v", size, got, err, ids)
		}
		if n, pages := len(e.rec.exchanges())-before, (len(ids)+size-1)/size; n != pages {
			t.Errorf("walk by %d made %d requests, want %d", size, n, pages)
		}
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// testCInvoice: §9, state is an integer, 2 = paid.
func testCInvoice(t *testing.T, e *cEnv) {
	inv, err := e.c.GetInvoice(e.ctx, e.b.Fix.InvoiceID)
	if err != nil {
		t.Fatal(err)
	}
	if int64(inv.EntityID) != e.b.Fix.InvoiceID || int64(inv.OrderID) != e.b.Fix.Order.EntityID || inv.State != InvoiceStatePaid ||
		!inv.Captured() || inv.IncrementID == "" || len(inv.Items) == 0 || inv.Items[0].SKU == "" {
		t.Errorf("invoice %+v", inv)
	}
	var raw struct {
		State json.RawMessage `json:"state"`
	}
	if json.Unmarshal(e.rec.last().RespBody, &raw) != nil || string(raw.State) != "2" {
		t.Errorf("state %s, want the integer 2", raw.State)
	}
}

// testCBasePrices: §10, 200 with an array of per-row failures; [] when all saved.
func testCBasePrices(t *testing.T, e *cEnv) {
	f := e.b.Fix
	err := e.c.UpdateBasePrices(e.ctx, []BasePrice{{SKU: f.KnownSKU, Price: decimal.RequireFromString("29.00")}, {SKU: f.UnknownSKU, Price: decimal.NewFromInt(1)}})
	var pf *PartialFailureError
	if !errors.Is(err, ErrPartialFailure) || !errors.As(err, &pf) {
		t.Fatalf("base prices: %v", err)
	}
	if len(pf.Failures) != 1 || pf.Failures[0].SKU != f.UnknownSKU || pf.Total != 2 || !strings.Contains(pf.Failures[0].Message, "%") ||
		!strings.Contains(pf.Failures[0].Rendered, f.UnknownSKU) || strings.Contains(pf.Failures[0].Rendered, "%") {
		t.Errorf("failures %+v", pf.Failures)
	}
	x := e.rec.last()
	if x.Status != http.StatusOK || !strings.HasSuffix(x.URL.Path, "/V1/products/base-prices") {
		t.Errorf("%s -> %d", x.URL.Path, x.Status)
	}
	var req struct {
		Prices []map[string]json.RawMessage `json:"prices"`
	}
	if json.Unmarshal(x.Body, &req) != nil || len(req.Prices) != 2 || !isJSONNumber(req.Prices[0]["price"]) || string(req.Prices[0]["store_id"]) != "0" {
		t.Errorf("request %s", x.Body)
	}
	if err := e.c.UpdateBasePrices(e.ctx, []BasePrice{{SKU: f.KnownSKU, Price: decimal.RequireFromString("29.00")}}); err != nil {
		t.Errorf("all saved: %v", err)
	}
	if b := strings.TrimSpace(string(e.rec.last().RespBody)); b != "[]" {
		t.Errorf("all saved answers %s, want []", b)
	}
}

// testCAsync: §11, an async write answers 202 with bulk_uuid and request_items.
func testCAsync(t *testing.T, e *cEnv) {
	sku := e.b.Fix.KnownSKU
	acc, err := e.c.SubmitAsync(e.ctx, http.MethodPut, "V1/products/"+url.PathEscape(sku),
		map[string]any{"product": map[string]any{"sku": sku, "price": json.Number("29")}})
	if err != nil {
		t.Fatal(err)
	}
	if acc.BulkUUID == "" || len(acc.RequestItems) != 1 || acc.RequestItems[0].Status != "accepted" || acc.RequestItems[0].DataHash == "" || bool(acc.Errors) {
		t.Errorf("accepted %+v", acc)
	}
	x := e.rec.last()
	if x.Status != http.StatusAccepted || !strings.Contains(x.URL.Path, "/async/V1/products/") {
		t.Errorf("%s -> %d", x.URL.Path, x.Status)
	}
}

// testCErrorList: §14, a template with %1 and list parameters.
func testCErrorList(t *testing.T, e *cEnv) {
	err := e.c.UpdateProductPrice(e.ctx, e.b.Fix.KnownSKU, decimal.NewFromInt(-1))
	var ce *Error
	if !errors.Is(err, ErrBadRequest) || !errors.As(err, &ce) {
		t.Fatalf("negative price: %v", err)
	}
	var params []string
	if json.Unmarshal(ce.Parameters, &params) != nil || len(params) != 1 || ce.Message != "Invalid product data: %1" ||
		ce.Rendered != "Invalid product data: "+params[0] || ce.Temporary() {
		t.Errorf("error %+v", ce)
	}
}

// testCBearer401: §12, the integration token as Bearer is refused with the
// misleading ACL body (map parameters); the client explains it.
func testCBearer401(t *testing.T, e *cEnv) {
	be := newCEnv(t, e.b, OAuth1Bearer(true))
	_, err := be.c.GetOrder(be.ctx, e.b.Fix.Order.EntityID)
	var ce *Error
	if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &ce) {
		t.Fatalf("bearer: %v", err)
	}
	var params map[string]string
	if json.Unmarshal(ce.Parameters, &params) != nil || ce.Message != "The consumer isn't authorized to access %resources." ||
		ce.Rendered != "The consumer isn't authorized to access "+e.b.Fix.BearerResource+"." || ce.Hint == "" ||
		!strings.Contains(err.Error(), "standalone Bearer") {
		t.Errorf("error %+v", ce)
	}
	if h := be.rec.last().Header.Get("Authorization"); h != "Bearer "+e.b.Creds.AccessToken {
		t.Errorf("Authorization %q", h)
	}
	checkCWire(t, be.rec)
}

// testCNotFound: §14 404.
func testCNotFound(t *testing.T, e *cEnv) {
	_, err := e.c.GetOrder(e.ctx, 999999)
	var ce *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &ce) || ce.Rendered == "" || strings.Contains(ce.Rendered, "%") || ce.Temporary() {
		t.Errorf("unknown order: %v", err)
	}
	if n := len(e.rec.exchanges()); n != 1 {
		t.Errorf("404 retried: %d requests", n)
	}
}

// testCServerErrors: §14, masked 500 with a report id (a write is not
// retried), 503 retried.
func testCServerErrors(t *testing.T, e *cEnv) {
	e.b.Fail(1, http.StatusInternalServerError)
	err := e.c.UpdateBasePrices(e.ctx, []BasePrice{{SKU: e.b.Fix.KnownSKU, Price: decimal.NewFromInt(1)}})
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != 500 || !strings.HasPrefix(ce.ReportID, "webapi-") || !errors.Is(err, ErrServer) {
		t.Errorf("500: %v", err)
	}
	if n := len(e.rec.exchanges()); n != 1 {
		t.Errorf("a 500 on a write was retried: %d requests", n)
	}
	e.b.Fail(2, http.StatusServiceUnavailable)
	if _, err := e.c.GetOrder(e.ctx, e.b.Fix.Order.EntityID); err != nil {
		t.Errorf("503 twice then OK: %v", err)
	}
	if n := len(e.rec.exchanges()); n != 4 {
		t.Errorf("%d requests, want 1 + 3", n)
	}
}

// testCWrongSecret: §12, a signature made with another secret is refused.
func testCWrongSecret(t *testing.T, e *cEnv) {
	wrong := *e.b
	wrong.Creds.AccessTokenSecret = "not-the-secret"
	we := newCEnv(t, &wrong)
	if _, err := we.c.GetOrder(we.ctx, e.b.Fix.Order.EntityID); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong secret: %v", err)
	}
}

// TestConformanceSimulator runs the suite against commercesim.
func TestConformanceSimulator(t *testing.T) {
	runCommerceConformance(t, func(t *testing.T) *cBackend {
		s := commercesim.NewTestServer(t, commercesim.Config{Seed: 21})
		var ids []int64
		var first commercesim.Order
		for i := range 4 {
			spec := commercesim.OrderSpec{}
			if i == 0 {
				spec.Lines = []commercesim.LineSpec{{SKU: "MS09", Qty: 1, Child: "MS09-M-Red"}}
			}
			o, err := s.PlaceOrder(t.Context(), "default", spec)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = o
			}
			ids = append(ids, int64(o.EntityID))
		}
		inv, err := s.CaptureInvoice(t.Context(), first.EntityID)
		if err != nil {
			t.Fatal(err)
		}
		return &cBackend{
			BaseURL: s.StoreBaseURL("all"),
			Creds:   simCreds(),
			Fix: cFixture{OrderIDs: ids, InvoiceID: int64(inv.EntityID), KnownSKU: "WB04", UnknownSKU: "NOPE-1",
				BearerResource: "Magento_Sales::actions_view",
				Order: cOrder{EntityID: int64(first.EntityID), IncrementID: first.IncrementID, GrandTotal: first.GrandTotal,
					Lines: len(first.Items), ShippingMethod: first.ShippingMethod}},
			Fail: s.FailNext,
		}
	})
}
