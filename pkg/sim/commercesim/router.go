package commercesim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type apiKind int

const (
	kindSync apiKind = iota
	kindAsync
	kindBulk
)

func (k apiKind) String() string {
	switch k {
	case kindAsync:
		return "async"
	case kindBulk:
		return "bulk"
	}
	return "sync"
}

// apiRequest is one REST call after prefix parsing and route matching.
type apiRequest struct {
	r        *http.Request
	kind     apiKind
	store    Store
	segs     []string
	params   map[string]string
	body     []byte
	endpoint string // "PUT /rest/all/V1/products/X", for write records
	source   string // "rest", "async", "bulk"
}

type handlerFunc func(s *Server, rq *apiRequest) (int, any)

type route struct {
	method   string
	pattern  []string
	resource string // ACL resource named in the misleading 401 body
	h        handlerFunc
	async    bool // may be called under the async / bulk prefixes
	topic    string
}

func newRoute(method, pattern, resource string, async bool, h handlerFunc) route {
	segs := strings.Split(pattern, "/")
	topic := "async.V1." + strings.ReplaceAll(pattern, "/", ".") + "." + strings.ToLower(method)
	return route{method: method, pattern: segs, resource: resource, h: h, async: async, topic: topic}
}

func routes() []route {
	return []route{
		newRoute("GET", "orders", "Magento_Sales::actions_view", false, (*Server).hListOrders),
		newRoute("GET", "orders/:id", "Magento_Sales::actions_view", false, (*Server).hGetOrder),
		newRoute("GET", "invoices", "Magento_Sales::sales_invoice", false, (*Server).hListInvoices),
		newRoute("GET", "invoices/:id", "Magento_Sales::sales_invoice", false, (*Server).hGetInvoice),
		newRoute("POST", "order/:orderId/invoice", "Magento_Sales::sales_invoice", true, (*Server).hCreateInvoice),
		newRoute("GET", "customers/search", "Magento_Customer::customer", false, (*Server).hSearchCustomers),
		newRoute("GET", "customers/:customerId", "Magento_Customer::customer", false, (*Server).hGetCustomer),
		newRoute("POST", "products/base-prices", "Magento_Catalog::catalog", true, (*Server).hBasePrices),
		newRoute("POST", "products/base-prices-information", "Magento_Catalog::catalog", false, (*Server).hBasePricesInfo),
		newRoute("GET", "products/:sku", "Magento_Catalog::products", false, (*Server).hGetProduct),
		newRoute("PUT", "products/:sku", "Magento_Catalog::products", true, (*Server).hPutProduct),
		newRoute("PUT", "products/:productSku/stockItems/:itemId", "Magento_CatalogInventory::cataloginventory", true, (*Server).hPutStockItem),
		newRoute("GET", "stockItems/:productSku", "Magento_CatalogInventory::cataloginventory", false, (*Server).hGetStockItem),
		newRoute("POST", "inventory/source-items", "Magento_InventoryApi::source_item_save", true, (*Server).hSaveSourceItems),
		newRoute("GET", "inventory/source-items", "Magento_InventoryApi::source_item", false, (*Server).hListSourceItems),
		newRoute("GET", "store/storeViews", "Magento_Backend::store", false, (*Server).hStoreViews),
		newRoute("GET", "bulk/:bulkUuid/status", "Magento_Logging::system_magento_logging_bulk_operations", false, (*Server).hBulkStatus),
		newRoute("GET", "bulk/:bulkUuid/detailed-status", "Magento_Logging::system_magento_logging_bulk_operations", false, (*Server).hBulkDetailed),
		newRoute("GET", "bulk/:bulkUuid/operation-status/:status", "Magento_Logging::system_magento_logging_bulk_operations", false, (*Server).hBulkOpCount),
	}
}

// matchRoute finds the route for method and segments. In bulk mode a path
// parameter must be the literal "by<Param>" segment.
func matchRoute(table []route, method string, segs []string, kind apiKind) (route, map[string]string, bool) {
	for _, rt := range table {
		if rt.method != method || len(rt.pattern) != len(segs) {
			continue
		}
		if kind != kindSync && !rt.async {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, p := range rt.pattern {
			if name, isParam := strings.CutPrefix(p, ":"); isParam {
				if kind == kindBulk {
					if segs[i] != "by"+strings.ToUpper(name[:1])+name[1:] {
						ok = false
						break
					}
					params[name] = "" // taken from each body element
					continue
				}
				if segs[i] == "" {
					ok = false
					break
				}
				params[name] = segs[i]
				continue
			}
			if p != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return rt, params, true
		}
	}
	return route{}, nil, false
}

// parsePrefix splits the flavour's URL layout. It returns the store code
// ("" = default), the kind and the segments after V1.
func (s *Server) parsePrefix(path string) (string, apiKind, []string, bool) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if s.cfg.Flavour == SaaS {
		// /<tenant>/V1/..., /<tenant>/V1/async/..., /<tenant>/V1/async/bulk/...
		if len(parts) < 3 || parts[0] != s.cfg.Tenant || parts[1] != "V1" {
			return "", 0, nil, false
		}
		rest := parts[2:]
		kind := kindSync
		if rest[0] == "async" {
			kind, rest = kindAsync, rest[1:]
			if len(rest) > 0 && rest[0] == "bulk" {
				kind, rest = kindBulk, rest[1:]
			}
		}
		if len(rest) == 0 {
			return "", 0, nil, false
		}
		return "", kind, rest, true
	}
	// /rest[/<store>][/async[/bulk]]/V1/...
	if len(parts) < 3 || parts[0] != "rest" {
		return "", 0, nil, false
	}
	rest := parts[1:]
	store := ""
	if rest[0] != "V1" && rest[0] != "async" {
		store, rest = rest[0], rest[1:]
	}
	kind := kindSync
	if len(rest) > 0 && rest[0] == "async" {
		kind, rest = kindAsync, rest[1:]
		if len(rest) > 0 && rest[0] == "bulk" {
			kind, rest = kindBulk, rest[1:]
		}
	}
	if len(rest) < 2 || rest[0] != "V1" {
		return "", 0, nil, false
	}
	return store, kind, rest[1:], true
}

// RequestRecord is one API request as the simulator answered it.
type RequestRecord struct {
	At     time.Time
	Method string
	Path   string
	Query  string
	Status int
	Auth   string // "oauth1", "bearer", "ims", "" (none or refused)
}

// Requests returns every API request answered so far.
func (s *Server) Requests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RequestRecord(nil), s.requests...)
}

// ServeHTTP serves the REST API, the IMS token endpoint and /_sim/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/ims/token/v3":
		s.handleIMSToken(w, r)
		return
	case strings.HasPrefix(r.URL.Path, "/_sim/"):
		s.handleInspect(w, r)
		return
	}
	status, auth := s.serveAPI(w, r)
	s.mu.Lock()
	s.requests = trimHistory(s.requests)
	s.requests = append(s.requests, RequestRecord{At: s.nowLocked(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status, Auth: auth})
	s.mu.Unlock()
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) (int, string) {
	if s.cfg.RateLimit > 0 {
		s.mu.Lock()
		sec := time.Now().Unix() // real time: a frozen test clock must not freeze the window
		if sec != s.rateSecond {
			s.rateSecond, s.rateCount = sec, 0
		}
		s.rateCount++
		over := s.rateCount > s.cfg.RateLimit
		s.mu.Unlock()
		if over {
			w.Header().Set("Retry-After", "1")
			return writeJSON(w, http.StatusTooManyRequests, Object{{"message", "Too Many Requests"}, {"trace", nil}}), ""
		}
	}
	if err := sleepCtx(r.Context(), s.cfg.Latency); err != nil {
		return 499, ""
	}
	s.mu.Lock()
	fail := 0
	if s.failNext > 0 {
		s.failNext--
		fail = s.failStatus
	}
	s.mu.Unlock()
	if fail != 0 {
		if fail == http.StatusInternalServerError {
			return writeJSON(w, fail, Object{{"message", "Internal Error. Details are available in Magento log file. Report ID: webapi-" + s.randHex(13)}}), ""
		}
		return writeJSON(w, fail, Object{{"message", http.StatusText(fail)}}), ""
	}

	storeCode, kind, segs, ok := s.parsePrefix(r.URL.EscapedPath())
	if !ok {
		return writeError(w, http.StatusNotFound, "Request does not match any route.", nil), ""
	}
	for i, seg := range segs {
		if u, err := unescapePathSeg(seg); err == nil {
			segs[i] = u
		}
	}
	rt, params, ok := matchRoute(s.routes, r.Method, segs, kind)
	if !ok {
		return writeError(w, http.StatusNotFound, "Request does not match any route.", nil), ""
	}
	auth, status, body := s.authenticate(r, rt.resource)
	if status != 0 {
		if status == http.StatusUnauthorized && s.cfg.Flavour == SaaS {
			w.Header().Set("WWW-Authenticate", `Bearer realm="commerce"`)
		}
		return writeJSON(w, status, body), ""
	}
	var store Store
	switch storeCode {
	case "", "default":
		store = s.stores[0]
	case "all":
		store = Store{Code: "all", ID: 0, WebsiteID: 0, Currency: s.stores[0].Currency, Name: "Admin"}
	default:
		st, found := s.storeByCode(storeCode)
		if !found {
			return writeError(w, http.StatusBadRequest, "The store that was requested wasn't found. Verify the store and try again.", nil), auth
		}
		store = st
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return writeError(w, http.StatusBadRequest, "Decoding error: %1", []any{err.Error()}), auth
	}
	rq := &apiRequest{r: r, kind: kind, store: store, segs: segs, params: params, body: raw,
		endpoint: r.Method + " " + r.URL.Path, source: "rest"}
	switch kind {
	case kindAsync:
		rq.source = "async"
		st, v := s.acceptAsync(rq, rt)
		return writeJSON(w, st, v), auth
	case kindBulk:
		rq.source = "bulk"
		st, v := s.acceptBulk(rq, rt)
		return writeJSON(w, st, v), auth
	}
	st, v := rt.h(s, rq)
	if f := r.URL.Query().Get("fields"); f != "" && st < 300 {
		sel, err := parseFields(f)
		if err != nil {
			return writeError(w, http.StatusBadRequest, "Invalid fields filter: %1", []any{err.Error()}), auth
		}
		v = sel.apply(v)
	}
	return writeJSON(w, st, v), auth
}

func unescapePathSeg(seg string) (string, error) {
	return urlPathUnescape(seg)
}

// errorBody is Commerce's error shape: a template plus list or map parameters.
func errorBody(message string, params any) Object {
	o := Object{{"message", message}}
	if params != nil {
		o = append(o, KV{"parameters", params})
	}
	return o
}

func writeError(w http.ResponseWriter, status int, message string, params any) int {
	return writeJSON(w, status, errorBody(message, params))
}

// writeJSON answers with PHP-style JSON, as Commerce's REST renderer does.
func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, err := PHPJSON(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"message":"Internal Error. Details are available in Magento log file. Report ID: webapi-phpjson"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

// decodeBody decodes a JSON request body with exact numbers.
func decodeBody(raw []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	return nil
}

func badRequest(format string, params any) (int, any) {
	return http.StatusBadRequest, errorBody(format, params)
}

func notFound(format string, params any) (int, any) {
	return http.StatusNotFound, errorBody(format, params)
}

func atoiParam(v string) (int, bool) {
	n, err := strconv.Atoi(v)
	return n, err == nil && n > 0
}

func (s *Server) randHex(n int) string {
	const hx = "0123456789abcdef"
	s.mu.Lock()
	defer s.mu.Unlock()
	b := make([]byte, n)
	for i := range b {
		b[i] = hx[s.rng.IntN(16)]
	}
	return string(b)
}

// maxHistory bounds the request and delivery logs so a long `mlc dev`
// session does not grow without limit; the oldest half is dropped.
const maxHistory = 100_000

func trimHistory[T any](xs []T) []T {
	if len(xs) < maxHistory {
		return xs
	}
	return append(xs[:0:0], xs[len(xs)/2:]...)
}
