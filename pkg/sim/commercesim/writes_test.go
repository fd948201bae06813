package commercesim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestPutProduct(t *testing.T) {
	s := NewTestServer(t, Config{})
	st, b := call(t, s, "PUT", "/V1/products/WB04", nil, map[string]any{"product": map[string]any{"sku": "WB04", "price": 29.5}})
	if st != 200 || !strings.Contains(string(b), `"price":29.5`) {
		t.Fatalf("%d %s", st, b)
	}
	st, b = call(t, s, "PUT", "/V1/products/NOPE", nil, map[string]any{"product": map[string]any{"sku": "NOPE", "price": 1}})
	if st != 404 || decode(t, b)["message"] != "The product that was requested doesn't exist. Verify the product and try again." {
		t.Fatalf("%d %s", st, b)
	}
	// Saved at the scope of the URL's store code: "default" is store 1, an override.
	if p, _ := s.ProductPrice("WB04", 1); !p.Equal(decimal.RequireFromString("29.5")) {
		t.Fatalf("store price %s", p)
	}
	if p, _ := s.ProductPrice("WB04", 2); !p.Equal(decimal.NewFromInt(45)) {
		t.Fatalf("other store changed: %s", p)
	}
	w := s.PriceWrites("WB04")
	if len(w) != 1 || w[0].StoreID != 1 || w[0].Source != "product" || w[0].Via != "rest" || !strings.HasPrefix(w[0].Endpoint, "PUT /rest/default/V1/products/WB04") {
		t.Fatalf("writes %+v", w)
	}
}

func TestBasePricesPartialFailure(t *testing.T) {
	s := NewTestServer(t, Config{})
	st, b := call(t, s, "POST", "/V1/products/base-prices", nil, map[string]any{"prices": []any{
		map[string]any{"sku": "WB04", "price": 44.99, "store_id": 0},
		map[string]any{"sku": "GHOST-1", "price": 10, "store_id": 0},
		map[string]any{"sku": "24-MB01", "price": 30, "store_id": 9},
	}})
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	var fails []struct {
		Message    string          `json:"message"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(b, &fails); err != nil {
		t.Fatal(err)
	}
	if len(fails) != 2 || fails[0].Message != "Requested product doesn't exist: %sku" || string(fails[0].Parameters) != `{"sku":"GHOST-1"}` ||
		!strings.Contains(fails[1].Message, "%storeId") {
		t.Fatalf("failures %s", b)
	}
	if p, _ := s.ProductPrice("WB04", 0); !p.Equal(decimal.RequireFromString("44.99")) {
		t.Fatalf("valid row not saved: %s", p)
	}
	if len(s.PriceWrites("24-MB01")) != 0 || len(s.PriceWrites("WB04")) != 1 {
		t.Fatal("writes recorded for failed rows")
	}
	st, b = call(t, s, "POST", "/V1/products/base-prices", nil, map[string]any{"prices": []any{map[string]any{"sku": "WB04", "price": 1}}})
	if st != 200 || string(b) != "[]" {
		t.Fatalf("all good: %d %s", st, b)
	}
}

func TestStockWrites(t *testing.T) {
	s := NewTestServer(t, Config{})
	st, b := call(t, s, "POST", "/V1/inventory/source-items", nil, map[string]any{"sourceItems": []any{
		map[string]any{"sku": "WB04", "source_code": "default", "quantity": 7, "status": 1},
	}})
	if st != 200 || string(b) != "[]" {
		t.Fatalf("%d %s", st, b)
	}
	if q, _ := s.SourceQuantity("WB04", "default"); !q.Equal(decimal.NewFromInt(7)) {
		t.Fatalf("qty %s", q)
	}
	st, b = call(t, s, "POST", "/V1/inventory/source-items", nil, map[string]any{"sourceItems": []any{
		map[string]any{"sku": "WB04", "source_code": "default", "quantity": 9, "status": 1},
		map[string]any{"sku": "GHOST", "source_code": "default", "quantity": 1, "status": 1},
	}})
	if st != 400 || !strings.Contains(string(b), "Validation Failed") {
		t.Fatalf("%d %s", st, b)
	}
	if q, _ := s.SourceQuantity("WB04", "default"); !q.Equal(decimal.NewFromInt(7)) {
		t.Fatal("invalid request partially applied")
	}
	lr := list(t, s, "/V1/inventory/source-items", newSearch().filter(0, 0, "sku", "WB04", "eq").Values)
	if lr.Total != 1 || lr.Items[0]["quantity"].(float64) != 7 {
		t.Fatalf("%+v", lr)
	}
	// Legacy stock item.
	st, b = call(t, s, "GET", "/V1/stockItems/24-MB01", nil, nil)
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	itemID := int(decode(t, b)["item_id"].(float64))
	st, b = call(t, s, "PUT", "/V1/products/24-MB01/stockItems/"+itoa(itemID), nil, map[string]any{"stockItem": map[string]any{"qty": 0, "is_in_stock": false}})
	if st != 200 || string(b) != itoa(itemID) {
		t.Fatalf("%d %s", st, b)
	}
	_, b = call(t, s, "GET", "/V1/stockItems/24-MB01", nil, nil)
	if decode(t, b)["is_in_stock"] != false {
		t.Fatalf("%s", b)
	}
	if w := s.StockWrites(""); len(w) != 2 || w[0].Source != "source-items" || w[1].Source != "stock-item" {
		t.Fatalf("%+v", w)
	}
}

type bulkStatus struct {
	BulkID     string `json:"bulk_id"`
	Operations []struct {
		ID            int     `json:"id"`
		Status        int     `json:"status"`
		ResultMessage *string `json:"result_message"`
	} `json:"operations_list"`
	OperationCount int `json:"operation_count"`
}

func getBulk(t *testing.T, s *Server, id string) bulkStatus {
	t.Helper()
	st, b := call(t, s, "GET", "/V1/bulk/"+id+"/detailed-status", nil, nil)
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	var bs bulkStatus
	if err := json.Unmarshal(b, &bs); err != nil {
		t.Fatal(err)
	}
	return bs
}

func waitBulk(t *testing.T, s *Server, id string) bulkStatus {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		bs := getBulk(t, s, id)
		open := false
		for _, op := range bs.Operations {
			open = open || op.Status == OpOpen
		}
		if !open {
			return bs
		}
		if time.Now().After(deadline) {
			t.Fatalf("bulk %s still open", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBulkStatusTransitionsAndStoppedConsumer(t *testing.T) {
	s := NewTestServer(t, Config{})
	s.StopBulkConsumer()
	st, b := call(t, s, "PUT", "/async/bulk/V1/products/bySku", nil, []any{
		map[string]any{"product": map[string]any{"sku": "WB04", "price": 41}},
		map[string]any{"product": map[string]any{"sku": "GHOST", "price": 2}},
	})
	if st != 202 {
		t.Fatalf("%d %s", st, b)
	}
	var acc struct {
		BulkUUID     string `json:"bulk_uuid"`
		RequestItems []struct {
			ID       int    `json:"id"`
			DataHash string `json:"data_hash"`
			Status   string `json:"status"`
		} `json:"request_items"`
		Errors bool `json:"errors"`
	}
	if err := json.Unmarshal(b, &acc); err != nil {
		t.Fatal(err)
	}
	if acc.BulkUUID == "" || len(acc.RequestItems) != 2 || acc.RequestItems[1].Status != "accepted" || acc.Errors || len(acc.RequestItems[0].DataHash) != 64 {
		t.Fatalf("%s", b)
	}
	time.Sleep(60 * time.Millisecond) // several consumer ticks
	bs := getBulk(t, s, acc.BulkUUID)
	if bs.OperationCount != 2 || bs.Operations[0].Status != OpOpen || bs.Operations[1].Status != OpOpen {
		t.Fatalf("stopped consumer processed: %+v", bs)
	}
	if len(s.PriceWrites("WB04")) != 0 {
		t.Fatal("write applied while consumer stopped")
	}
	st, b = call(t, s, "GET", "/V1/bulk/"+acc.BulkUUID+"/operation-status/4", nil, nil)
	if st != 200 || string(b) != "2" {
		t.Fatalf("open count %d %s", st, b)
	}
	s.StartBulkConsumer()
	bs = waitBulk(t, s, acc.BulkUUID)
	if bs.Operations[0].Status != OpComplete || bs.Operations[1].Status != OpFailedNeedsChange || bs.Operations[1].ResultMessage == nil ||
		!strings.Contains(*bs.Operations[1].ResultMessage, "doesn't exist") {
		t.Fatalf("after consumer: %+v", bs)
	}
	w := s.PriceWrites("WB04")
	if len(w) != 1 || w[0].Via != "bulk" || !w[0].Price.Equal(decimal.NewFromInt(41)) {
		t.Fatalf("%+v", w)
	}
	if st, b := call(t, s, "GET", "/V1/bulk/00000000-0000-0000-0000-000000000000/status", nil, nil); st != 404 ||
		!strings.Contains(string(b), "%bulkUuid") {
		t.Fatalf("unknown bulk %d %s", st, b)
	}
}

func TestAsyncAndSaaSLayout(t *testing.T) {
	s := NewTestServer(t, Config{})
	st, b := call(t, s, "POST", "/async/V1/products/base-prices", nil, map[string]any{"prices": []any{map[string]any{"sku": "WB04", "price": 3}}})
	if st != 202 {
		t.Fatalf("%d %s", st, b)
	}
	bs := waitBulk(t, s, decode(t, b)["bulk_uuid"].(string))
	if bs.Operations[0].Status != OpComplete || len(s.PriceWrites("WB04")) != 1 {
		t.Fatalf("%+v", bs)
	}
	// GET is not an async route.
	if st, _ := call(t, s, "GET", "/async/V1/orders", nil, nil); st != 404 {
		t.Fatalf("async GET %d", st)
	}

	saas := NewTestServer(t, Config{Flavour: SaaS, Tenant: "t42"})
	if got := saas.StoreBaseURL("default"); got != saas.URL()+"/t42" {
		t.Fatalf("store base %s", got)
	}
	tok := saasToken(t, saas)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/t42/V1/orders?searchCriteria[pageSize]=5", 200},
		{"POST", "/t42/V1/async/products/base-prices", 202},
		{"PUT", "/t42/V1/async/bulk/products/bySku", 202},
		{"POST", "/t42/async/V1/products/base-prices", 404}, // PaaS placement on SaaS
		{"GET", "/other/V1/orders", 404},
	} {
		body := `{"prices":[{"sku":"WB04","price":3}]}`
		if strings.Contains(c.path, "bulk") {
			body = `[{"product":{"sku":"WB04","price":4}}]`
		}
		req, _ := http.NewRequest(c.method, saas.URL()+c.path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("x-api-key", saas.Config().IMS.ClientID)
		req.Header.Set("x-gw-ims-org-id", saas.Config().IMS.OrgID)
		if st, b := do(t, req); st != c.want {
			t.Errorf("%s %s: %d %s", c.method, c.path, st, b)
		}
	}
}

func saasToken(t *testing.T, s *Server) string {
	ims := s.Config().IMS
	st, m := imsToken(t, s, map[string][]string{"client_id": {ims.ClientID}, "client_secret": {ims.ClientSecret},
		"grant_type": {"client_credentials"}, "scope": {"openid,AdobeID,commerce.accs"}})
	if st != 200 {
		t.Fatalf("ims %d", st)
	}
	return m["access_token"].(string)
}
