package commerce

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// TestConformanceReferenceTranscript runs the suite against a scripted
// server that verifies each request the way shared/reference/adobe-commerce.md
// describes (OAuth 1.0a per RFC 5849 with query parameters, computed here
// independently of the client) and answers with the documented bodies.
func TestConformanceReferenceTranscript(t *testing.T) {
	runCommerceConformance(t, newCommerceTranscript)
}

// Documented bodies. The order is §7's example as printed (whitespace
// included); orders 1, 2 and 4 are the same body with other ids.
const (
	docOrder3 = `{"entity_id": 3, "increment_id": "000000003", "store_id": 1, "state": "new", "status": "pending",
 "created_at": "2017-08-21 22:22:19", "updated_at": "2017-08-21 22:22:19", "customer_email": "ann@example.com",
 "customer_is_guest": 0, "customer_id": 12, "order_currency_code": "USD", "grand_total": 104.59,
 "items": [{"item_id": 5, "sku": "MS09-M-Red", "product_type": "configurable", "qty_ordered": 1, "price": 32},
           {"item_id": 6, "sku": "MS09-M-Red", "product_type": "simple", "parent_item_id": 5, "qty_ordered": 1, "price": 0}],
 "billing_address": {"address_type": "billing", "firstname": "Ann", "street": ["1 Main St"], "city": "Austin", "region_code": "TX",
                     "postcode": "78701", "country_id": "US", "telephone": "555-0100"},
 "payment": {"method": "checkmo"},
 "extension_attributes": {"shipping_assignments": [{"shipping": {"address": {"address_type": "shipping"}, "method": "flatrate_flatrate",
                                                    "total": {"shipping_amount": 5}}, "items": []}]}}`
	// §9 fields of a captured invoice of order 3 (state 2 = paid).
	docInvoice1 = `{"entity_id": 1, "increment_id": "000000001", "order_id": 3, "state": 2, "grand_total": 104.59, "base_grand_total": 104.59,
 "subtotal": 32, "tax_amount": 0, "discount_amount": 0, "shipping_amount": 5, "total_qty": 1, "order_currency_code": "USD",
 "transaction_id": "", "created_at": "2017-08-21 22:25:01", "updated_at": "2017-08-21 22:25:01",
 "items": [{"order_item_id": 5, "sku": "MS09-M-Red", "qty": 1, "price": 32, "row_total": 32, "tax_amount": 0, "discount_amount": 0}]}`
	// §11.
	docAsync202 = `{"bulk_uuid":"799a59c0-09ca-4d60-b432-2953986c1c38","request_items":[{"id":0,"data_hash":"2c9d6fd0b8d5cb3e4f4be0a0a1e2b7f8d3d2a4d5c6b7e8f90112233445566778","status":"accepted"}],"errors":false}`
	// §14 and §12.
	docInvalidProduct = `{"message":"Invalid product data: %1","parameters":["Invalid attribute set entity type"]}`
	docBearer401      = `{"message":"The consumer isn't authorized to access %resources.","parameters":{"resources":"Magento_Catalog::products"}}`
	docInternal       = `{"message":"Internal Error. Details are available in Magento log file. Report ID: webapi-6523f0a1b2c3d"}`
	docNoEntity       = `{"message":"The entity that was requested doesn't exist. Verify the entity and try again."}`
	docBadSignature   = `{"message":"The signature is invalid. Verify and try again."}`
	docUnavailable    = `{"message":"Service Unavailable"}`
	// §10: one failure per rejected row, %1 bound to the SKU.
	docNoProduct = `{"message":"Requested product doesn't exist: %1","parameters":[SKU]}`
)

func transcriptOrder(id int) string {
	if id == 3 {
		return docOrder3
	}
	return strings.Replace(docOrder3, `"entity_id": 3, "increment_id": "000000003"`,
		fmt.Sprintf(`"entity_id": %d, "increment_id": "00000000%d"`, id, id), 1)
}

type commerceTranscript struct {
	t     *testing.T
	creds OAuth1Credentials

	mu     sync.Mutex
	nonces map[string]bool
	fail   int
	status int
}

func newCommerceTranscript(t *testing.T) *cBackend {
	ts := &commerceTranscript{t: t, nonces: map[string]bool{},
		creds: OAuth1Credentials{ConsumerKey: "ck-transcript", ConsumerSecret: "cs-transcript", AccessToken: "at-transcript", AccessTokenSecret: "ats-transcript"}}
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	return &cBackend{
		BaseURL: srv.URL + "/rest/all",
		Creds:   ts.creds,
		Fix: cFixture{OrderIDs: []int64{1, 2, 3, 4}, InvoiceID: 1, KnownSKU: "MS09-M-Red", UnknownSKU: "NOPE-1",
			BearerResource: "Magento_Catalog::products",
			Order: cOrder{EntityID: 3, IncrementID: "000000003", GrandTotal: decimal.RequireFromString("104.59"), Lines: 2,
				ShippingMethod: "flatrate_flatrate"}},
		Fail: func(n, status int) {
			ts.mu.Lock()
			ts.fail, ts.status = n, status
			ts.mu.Unlock()
		},
	}
}

func (ts *commerceTranscript) violation(w http.ResponseWriter, r *http.Request, format string, a ...any) {
	ts.t.Errorf("reference violation: %s %s: %s", r.Method, r.URL, fmt.Sprintf(format, a...))
	cWrite(w, http.StatusBadRequest, `{"message":"The request does not follow the reference."}`)
}

func cWrite(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// enc is RFC 3986 percent-encoding as RFC 5849 §3.6 wants it.
func enc(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// verifyOAuth checks the §12 header: the seven parameters, HMAC-SHA256 over
// the RFC 5849 base string with every query parameter, 600 s skew, a nonce
// never seen before. ok=false means the answer was written.
func (ts *commerceTranscript) verifyOAuth(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if strings.HasPrefix(h, "Bearer ") {
		cWrite(w, http.StatusUnauthorized, docBearer401) // bearer use disabled, the default
		return false
	}
	rest, ok := strings.CutPrefix(h, "OAuth ")
	if !ok {
		ts.violation(w, r, "Authorization %q", h)
		return false
	}
	p := map[string]string{}
	for _, part := range strings.Split(rest, ", ") {
		k, v, ok := strings.Cut(part, "=")
		uv, err := url.PathUnescape(strings.Trim(v, `"`))
		if !ok || err != nil || !strings.HasPrefix(v, `"`) || !strings.HasSuffix(v, `"`) {
			ts.violation(w, r, "Authorization parameter %q", part)
			return false
		}
		p[k] = uv
	}
	ts0, err := strconv.ParseInt(p["oauth_timestamp"], 10, 64)
	if len(p) != 7 || p["oauth_consumer_key"] != ts.creds.ConsumerKey || p["oauth_token"] != ts.creds.AccessToken ||
		p["oauth_signature_method"] != "HMAC-SHA256" || p["oauth_version"] != "1.0" || p["oauth_nonce"] == "" || err != nil ||
		time.Since(time.Unix(ts0, 0)).Abs() > 600*time.Second {
		ts.violation(w, r, "OAuth parameters %v", p)
		return false
	}
	ts.mu.Lock()
	reused := ts.nonces[p["oauth_nonce"]]
	ts.nonces[p["oauth_nonce"]] = true
	ts.mu.Unlock()
	if reused {
		ts.violation(w, r, "nonce %q reused", p["oauth_nonce"])
		return false
	}
	var pairs [][2]string
	for k, v := range p {
		if k != "oauth_signature" {
			pairs = append(pairs, [2]string{enc(k), enc(v)})
		}
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			pairs = append(pairs, [2]string{enc(k), enc(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool { // by encoded name, then value
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	joined := make([]string, len(pairs))
	for i, kv := range pairs {
		joined[i] = kv[0] + "=" + kv[1]
	}
	base := r.Method + "&" + enc("http://"+strings.ToLower(r.Host)+r.URL.EscapedPath()) + "&" + enc(strings.Join(joined, "&"))
	mac := hmac.New(sha256.New, []byte(enc(ts.creds.ConsumerSecret)+"&"+enc(ts.creds.AccessTokenSecret)))
	mac.Write([]byte(base))
	if !hmac.Equal([]byte(base64.StdEncoding.EncodeToString(mac.Sum(nil))), []byte(p["oauth_signature"])) {
		cWrite(w, http.StatusUnauthorized, docBadSignature)
		return false
	}
	return true
}

func (ts *commerceTranscript) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if !ts.verifyOAuth(w, r) {
		return
	}
	ts.mu.Lock()
	failing, status := ts.fail > 0, ts.status
	if failing {
		ts.fail--
	}
	ts.mu.Unlock()
	if failing {
		if status == http.StatusInternalServerError {
			cWrite(w, status, docInternal)
		} else {
			cWrite(w, status, docUnavailable)
		}
		return
	}
	if r.Method != http.MethodGet && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		ts.violation(w, r, "write with Content-Type %q", r.Header.Get("Content-Type"))
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/rest/all/")
	switch {
	case r.Method == http.MethodGet && p == "V1/orders":
		ts.searchOrders(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(p, "V1/orders/"):
		id, err := strconv.Atoi(strings.TrimPrefix(p, "V1/orders/"))
		if err != nil || id < 1 || id > 4 {
			cWrite(w, http.StatusNotFound, docNoEntity)
			return
		}
		cWrite(w, http.StatusOK, transcriptOrder(id))
	case r.Method == http.MethodGet && p == "V1/invoices/1":
		cWrite(w, http.StatusOK, docInvoice1)
	case r.Method == http.MethodPost && p == "V1/products/base-prices":
		ts.basePrices(w, r, body)
	case r.Method == http.MethodPut && strings.HasPrefix(p, "V1/products/"):
		ts.putProduct(w, r, strings.TrimPrefix(p, "V1/products/"), body, false)
	case r.Method == http.MethodPut && strings.HasPrefix(p, "async/V1/products/"):
		ts.putProduct(w, r, strings.TrimPrefix(p, "async/V1/products/"), body, true)
	default:
		ts.violation(w, r, "no such route in the reference's flows")
	}
}

// searchOrders is §8: increment_id eq or everything, sorted by entity_id
// ASC, pageSize/currentPage with the last page repeated past the end.
func (ts *commerceTranscript) searchOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	const f0 = "searchCriteria[filter_groups][0][filters][0]"
	ids := []int{1, 2, 3, 4}
	var filter string
	if field := q.Get(f0 + "[field]"); field != "" {
		if field != "increment_id" || q.Get(f0+"[condition_type]") != "eq" {
			ts.violation(w, r, "filter %s", r.URL.RawQuery)
			return
		}
		want := q.Get(f0 + "[value]")
		filter = `{"filters":[{"field":"increment_id","value":` + strconv.Quote(want) + `,"condition_type":"eq"}]}`
		ids = nil
		for _, id := range []int{1, 2, 3, 4} {
			if fmt.Sprintf("00000000%d", id) == want {
				ids = append(ids, id)
			}
		}
	} else if q.Get("searchCriteria[sortOrders][0][field]") != "entity_id" || q.Get("searchCriteria[sortOrders][0][direction]") != "ASC" {
		ts.violation(w, r, "an unfiltered search must sort by entity_id with an explicit direction: %s", r.URL.RawQuery)
		return
	}
	size, err1 := strconv.Atoi(q.Get("searchCriteria[pageSize]"))
	page, err2 := strconv.Atoi(q.Get("searchCriteria[currentPage]"))
	if err1 != nil || err2 != nil || size < 1 || size > 300 || page < 1 {
		ts.violation(w, r, "paging %s (always page, pageSize <= 300)", r.URL.RawQuery)
		return
	}
	last := max(1, (len(ids)+size-1)/size)
	cur := min(page, last) // Magento\Framework\Data\Collection::getCurPage clamps
	var items []string
	for _, id := range ids[min((cur-1)*size, len(ids)):min(cur*size, len(ids))] {
		items = append(items, transcriptOrder(id))
	}
	cWrite(w, http.StatusOK, `{"items":[`+strings.Join(items, ",")+`],"search_criteria":{"filter_groups":[`+filter+
		`],"page_size":`+strconv.Itoa(size)+`,"current_page":`+strconv.Itoa(page)+`},"total_count":`+strconv.Itoa(len(ids))+`}`)
}

// basePrices is §10: 200 with the rejected rows, [] when every row was saved.
func (ts *commerceTranscript) basePrices(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Prices []struct {
			SKU     string       `json:"sku"`
			Price   *json.Number `json:"price"`
			StoreID *json.Number `json:"store_id"`
		} `json:"prices"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || len(req.Prices) == 0 || len(req.Prices) > 20 {
		ts.violation(w, r, "body %s (1..20 rows, input limits)", body)
		return
	}
	failures := []string{}
	for _, p := range req.Prices {
		if p.Price == nil || p.StoreID == nil || p.SKU == "" {
			ts.violation(w, r, "row without sku, numeric price or store_id: %s", body)
			return
		}
		if p.SKU != "MS09-M-Red" {
			failures = append(failures, strings.Replace(docNoProduct, "SKU", strconv.Quote(p.SKU), 1))
		}
	}
	cWrite(w, http.StatusOK, "["+strings.Join(failures, ",")+"]")
}

// putProduct is §10 one product's price, or its §11 async form.
func (ts *commerceTranscript) putProduct(w http.ResponseWriter, r *http.Request, sku string, body []byte, async bool) {
	var req struct {
		Product struct {
			SKU   string       `json:"sku"`
			Price *json.Number `json:"price"`
		} `json:"product"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || req.Product.SKU != sku || req.Product.Price == nil {
		ts.violation(w, r, "body %s", body)
		return
	}
	if async {
		cWrite(w, http.StatusAccepted, docAsync202)
		return
	}
	if strings.HasPrefix(req.Product.Price.String(), "-") {
		cWrite(w, http.StatusBadRequest, docInvalidProduct)
		return
	}
	cWrite(w, http.StatusOK, `{"id":1,"sku":`+strconv.Quote(sku)+`,"price":`+req.Product.Price.String()+`}`)
}
