package commercesim

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/shopspring/decimal"
)

// PriceWrite is one price saved on a SKU.
type PriceWrite struct {
	SKU      string
	StoreID  int // 0 = global (all store views)
	Price    decimal.Decimal
	Source   string // "product" (PUT products/{sku}), "base-prices"
	Via      string // "rest", "async", "bulk"
	Endpoint string // e.g. "POST /rest/all/V1/products/base-prices"
	At       time.Time
}

// StockWrite is one stock quantity saved on a SKU.
type StockWrite struct {
	SKU        string
	SourceCode string // MSI source; "default" for legacy stock items
	Quantity   decimal.Decimal
	Status     int    // 1 in stock, 0 out of stock
	Source     string // "source-items", "stock-item"
	Via        string
	Endpoint   string
	At         time.Time
}

// PriceWrites returns every price write for sku ("" = all SKUs).
func (s *Server) PriceWrites(sku string) []PriceWrite {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sku != "" {
		return append([]PriceWrite(nil), s.priceWrites[sku]...)
	}
	var out []PriceWrite
	for _, ws := range s.priceWrites {
		out = append(out, ws...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// StockWrites returns every stock write for sku ("" = all SKUs).
func (s *Server) StockWrites(sku string) []StockWrite {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sku != "" {
		return append([]StockWrite(nil), s.stockWrites[sku]...)
	}
	var out []StockWrite
	for _, ws := range s.stockWrites {
		out = append(out, ws...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Product price and stock as the simulator holds them, for assertions.
func (s *Server) ProductPrice(sku string, storeID int) (decimal.Decimal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.products[sku]
	if p == nil {
		return decimal.Zero, false
	}
	return p.priceFor(storeID), true
}

// SourceQuantity returns the MSI quantity of sku at source.
func (s *Server) SourceQuantity(sku, source string) (decimal.Decimal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	si := s.sourceItems[sku+"|"+source]
	if si == nil {
		return decimal.Zero, false
	}
	return si.Quantity, true
}

// AddProduct adds a simple product (or replaces its price and name) with no
// stock, so tests can use SKUs beyond the shared catalogue: odd characters,
// large catalogues.
func (s *Server) AddProduct(sku, name string, price decimal.Decimal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.products[sku]; p != nil {
		p.Name, p.Price, p.UpdatedAt = name, price, s.nowLocked()
		return
	}
	id := len(s.products) + 1 // products are never removed, so ids stay unique
	s.products[sku] = &product{ID: id, SKU: sku, Name: name, Type: "simple", Price: price, StorePrices: map[int]decimal.Decimal{},
		StockItemID: id, UpdatedAt: s.nowLocked()}
}

func productMissing() (int, any) {
	return notFound("The product that was requested doesn't exist. Verify the product and try again.", nil)
}

func knownSources() map[string]bool {
	return map[string]bool{"default": true, "eu-warehouse": true}
}

func (s *Server) productRESTLocked(p *product, storeID int) Object {
	return Object{
		{"id", p.ID}, {"sku", p.SKU}, {"name", p.Name}, {"attribute_set_id", 4}, {"price", num(p.priceFor(storeID))},
		{"status", 1}, {"visibility", 4}, {"type_id", p.Type}, {"created_at", "2024-01-01 00:00:00"}, {"updated_at", ts(p.UpdatedAt)},
		{"extension_attributes", Object{{"website_ids", []any{1, 2}}, {"stock_item", s.stockItemREST(p)}}},
	}
}

func (s *Server) stockItemREST(p *product) Object {
	return Object{
		{"item_id", p.StockItemID}, {"product_id", p.ID}, {"stock_id", 1}, {"qty", num(p.Qty)}, {"is_in_stock", p.InStock},
		{"manage_stock", p.Type == "simple"}, {"low_stock_date", nil}, {"backorders", 0},
	}
}

func (s *Server) hGetProduct(rq *apiRequest) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.products[rq.params["sku"]]
	if p == nil {
		return productMissing()
	}
	return http.StatusOK, s.productRESTLocked(p, rq.store.ID)
}

// hPutProduct serves PUT /V1/products/{sku} {"product":{"sku","price"}}; it
// saves at the scope of the URL's store code (all = global).
func (s *Server) hPutProduct(rq *apiRequest) (int, any) {
	var body struct {
		Product *struct {
			SKU   string       `json:"sku"`
			Price *json.Number `json:"price"`
			Name  string       `json:"name"`
		} `json:"product"`
	}
	if err := decodeBody(rq.body, &body); err != nil {
		return badRequest("Decoding error: %1", []any{err.Error()})
	}
	if body.Product == nil {
		return badRequest("\"%fieldName\" is required. Enter and try again.", Object{{"fieldName", "product"}})
	}
	sku := rq.params["sku"]
	if sku == "" {
		sku = body.Product.SKU
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.products[sku]
	if p == nil {
		return productMissing()
	}
	if body.Product.Price != nil {
		price, err := decimal.NewFromString(string(*body.Product.Price))
		if err != nil || price.IsNegative() {
			return badRequest("Invalid product data: %1", []any{"Product price must be greater than or equal to 0"})
		}
		if rq.store.ID == 0 {
			p.Price = price
		} else {
			p.StorePrices[rq.store.ID] = price // a store-view override
		}
		p.UpdatedAt = s.nowLocked()
		s.priceWrites[sku] = append(s.priceWrites[sku], PriceWrite{SKU: sku, StoreID: rq.store.ID, Price: price, Source: "product",
			Via: rq.source, Endpoint: rq.endpoint, At: s.nowLocked()})
	}
	return http.StatusOK, s.productRESTLocked(p, rq.store.ID)
}

func (s *Server) tooMany(n int, typ string) (int, any, bool) {
	if s.cfg.InputLimits && n > 20 {
		st, b := badRequest("Maximum items of type \"%type\" is %max", Object{{"type", typ}, {"max", 20}})
		return st, b, true
	}
	return 0, nil, false
}

// hBasePrices serves POST /V1/products/base-prices. HTTP 200 even when rows
// fail: the body lists the rejected rows, [] when all were saved.
func (s *Server) hBasePrices(rq *apiRequest) (int, any) {
	var body struct {
		Prices []struct {
			SKU     string       `json:"sku"`
			Price   *json.Number `json:"price"`
			StoreID *int         `json:"store_id"`
		} `json:"prices"`
	}
	if err := decodeBody(rq.body, &body); err != nil {
		return badRequest("Decoding error: %1", []any{err.Error()})
	}
	if st, b, over := s.tooMany(len(body.Prices), "\\Magento\\Catalog\\Api\\Data\\BasePriceInterface"); over {
		return st, b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	failures := []any{}
	now := s.nowLocked()
	for _, row := range body.Prices {
		p := s.products[row.SKU]
		if p == nil {
			failures = append(failures, errorBody("Requested product doesn't exist: %sku", Object{{"sku", row.SKU}}))
			continue
		}
		var price decimal.Decimal
		var err error
		if row.Price != nil {
			price, err = decimal.NewFromString(string(*row.Price))
		}
		if row.Price == nil || err != nil || price.IsNegative() {
			pv := ""
			if row.Price != nil {
				pv = string(*row.Price)
			}
			failures = append(failures, errorBody("Invalid attribute %fieldName = %fieldValue.", Object{{"fieldName", "Price"}, {"fieldValue", pv}}))
			continue
		}
		storeID := 0
		if row.StoreID != nil {
			storeID = *row.StoreID
		}
		if storeID != 0 {
			known := false
			for _, st := range s.stores {
				known = known || st.ID == storeID
			}
			if !known {
				failures = append(failures, errorBody("Requested store is not found. Row ID: SKU = %SKU, Store ID: %storeId.",
					Object{{"SKU", row.SKU}, {"storeId", storeID}}))
				continue
			}
			p.StorePrices[storeID] = price
		} else {
			p.Price = price
		}
		p.UpdatedAt = now
		s.priceWrites[row.SKU] = append(s.priceWrites[row.SKU], PriceWrite{SKU: row.SKU, StoreID: storeID, Price: price,
			Source: "base-prices", Via: rq.source, Endpoint: rq.endpoint, At: now})
	}
	return http.StatusOK, failures
}

// hBasePricesInfo serves POST /V1/products/base-prices-information {"skus":[...]}.
func (s *Server) hBasePricesInfo(rq *apiRequest) (int, any) {
	var body struct {
		SKUs []string `json:"skus"`
	}
	if err := decodeBody(rq.body, &body); err != nil {
		return badRequest("Decoding error: %1", []any{err.Error()})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, sku := range body.SKUs {
		p := s.products[sku]
		if p == nil {
			return notFound("Requested products don't exist: %sku", Object{{"sku", sku}})
		}
		out = append(out, Object{{"price", num(p.Price)}, {"store_id", 0}, {"sku", sku}})
		ids := make([]int, 0, len(p.StorePrices))
		for id := range p.StorePrices {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		for _, id := range ids {
			out = append(out, Object{{"price", num(p.StorePrices[id])}, {"store_id", id}, {"sku", sku}})
		}
	}
	return http.StatusOK, out
}

// hSaveSourceItems serves POST /V1/inventory/source-items: all rows are
// validated first; any invalid row fails the whole request.
func (s *Server) hSaveSourceItems(rq *apiRequest) (int, any) {
	var body struct {
		SourceItems []struct {
			SKU        string       `json:"sku"`
			SourceCode string       `json:"source_code"`
			Quantity   *json.Number `json:"quantity"`
			Status     *int         `json:"status"`
		} `json:"sourceItems"`
	}
	if err := decodeBody(rq.body, &body); err != nil {
		return badRequest("Decoding error: %1", []any{err.Error()})
	}
	if len(body.SourceItems) == 0 {
		return badRequest("Input data is empty", nil)
	}
	if st, b, over := s.tooMany(len(body.SourceItems), "\\Magento\\InventoryApi\\Api\\Data\\SourceItemInterface"); over {
		return st, b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []any
	qtys := make([]decimal.Decimal, len(body.SourceItems))
	for i, it := range body.SourceItems {
		switch {
		case it.SKU == "":
			errs = append(errs, errorBody("\"%field\" can not be empty.", Object{{"field", "sku"}}))
		case s.products[it.SKU] == nil:
			errs = append(errs, errorBody("Product with SKU \"%sku\" does not exist.", Object{{"sku", it.SKU}}))
		case !knownSources()[it.SourceCode]:
			errs = append(errs, errorBody("Source with code \"%code\" does not exist.", Object{{"code", it.SourceCode}}))
		case it.Status == nil || (*it.Status != 0 && *it.Status != 1):
			errs = append(errs, errorBody("\"%field\" should be numeric.", Object{{"field", "status"}}))
		default:
			if it.Quantity == nil {
				errs = append(errs, errorBody("\"%field\" should be numeric.", Object{{"field", "quantity"}}))
				continue
			}
			q, err := decimal.NewFromString(string(*it.Quantity))
			if err != nil {
				errs = append(errs, errorBody("\"%field\" should be numeric.", Object{{"field", "quantity"}}))
				continue
			}
			qtys[i] = q
		}
	}
	if len(errs) > 0 {
		return http.StatusBadRequest, Object{{"message", "Validation Failed"}, {"errors", errs}}
	}
	now := s.nowLocked()
	for i, it := range body.SourceItems {
		key := it.SKU + "|" + it.SourceCode
		si := s.sourceItems[key]
		if si == nil {
			si = &sourceItem{SKU: it.SKU, SourceCode: it.SourceCode}
			s.sourceItems[key] = si
		}
		si.Quantity, si.Status = qtys[i], *it.Status
		s.refreshStockLocked(it.SKU)
		s.stockWrites[it.SKU] = append(s.stockWrites[it.SKU], StockWrite{SKU: it.SKU, SourceCode: it.SourceCode, Quantity: qtys[i],
			Status: *it.Status, Source: "source-items", Via: rq.source, Endpoint: rq.endpoint, At: now})
	}
	return http.StatusOK, []any{}
}

// refreshStockLocked recomputes the legacy stock item from the sources.
func (s *Server) refreshStockLocked(sku string) {
	p := s.products[sku]
	total := decimal.Zero
	inStock := false
	for code := range knownSources() { // by key: a scan of every source item per write is quadratic
		if si := s.sourceItems[sku+"|"+code]; si != nil {
			total = total.Add(si.Quantity)
			inStock = inStock || (si.Status == 1 && si.Quantity.IsPositive())
		}
	}
	p.Qty, p.InStock, p.UpdatedAt = total, inStock, s.nowLocked()
}

func sourceItemREST(si *sourceItem) Object {
	return Object{{"sku", si.SKU}, {"source_code", si.SourceCode}, {"quantity", num(si.Quantity)}, {"status", si.Status}}
}

func sourceItemColumns() map[string]bool {
	return map[string]bool{"sku": true, "source_code": true, "quantity": true, "status": true}
}

func (s *Server) hListSourceItems(rq *apiRequest) (int, any) {
	s.mu.Lock()
	keys := make([]string, 0, len(s.sourceItems))
	for k := range s.sourceItems {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	recs := make([]record, 0, len(keys))
	for _, k := range keys {
		recs = append(recs, sourceItemREST(s.sourceItems[k]))
	}
	s.mu.Unlock()
	return s.listResponse(rq, recs, sourceItemColumns(), nil)
}

// hPutStockItem serves legacy PUT /V1/products/{sku}/stockItems/{itemId}
// {"stockItem":{"qty","is_in_stock"}} and answers the item id.
func (s *Server) hPutStockItem(rq *apiRequest) (int, any) {
	var body struct {
		StockItem *struct {
			Qty       *json.Number `json:"qty"`
			IsInStock *bool        `json:"is_in_stock"`
		} `json:"stockItem"`
	}
	if err := decodeBody(rq.body, &body); err != nil {
		return badRequest("Decoding error: %1", []any{err.Error()})
	}
	if body.StockItem == nil {
		return badRequest("\"%fieldName\" is required. Enter and try again.", Object{{"fieldName", "stockItem"}})
	}
	sku := rq.params["productSku"]
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.products[sku]
	if p == nil {
		return productMissing()
	}
	si := s.sourceItems[sku+"|default"]
	if si == nil {
		si = &sourceItem{SKU: sku, SourceCode: "default"}
		s.sourceItems[sku+"|default"] = si
	}
	if body.StockItem.Qty != nil {
		q, err := decimal.NewFromString(string(*body.StockItem.Qty))
		if err != nil {
			return badRequest("\"%field\" should be numeric.", Object{{"field", "qty"}})
		}
		si.Quantity = q
	}
	if body.StockItem.IsInStock != nil {
		si.Status = boolInt(*body.StockItem.IsInStock)
	} else {
		si.Status = boolInt(si.Quantity.IsPositive())
	}
	s.refreshStockLocked(sku)
	s.stockWrites[sku] = append(s.stockWrites[sku], StockWrite{SKU: sku, SourceCode: "default", Quantity: si.Quantity, Status: si.Status,
		Source: "stock-item", Via: rq.source, Endpoint: rq.endpoint, At: s.nowLocked()})
	return http.StatusOK, p.StockItemID
}

func (s *Server) hGetStockItem(rq *apiRequest) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.products[rq.params["productSku"]]
	if p == nil {
		return productMissing()
	}
	return http.StatusOK, s.stockItemREST(p)
}
