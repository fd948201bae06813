package commerce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// number writes a decimal as a JSON number (decimal.Decimal marshals as a
// string by default, and its switch for that is global state).
func number(d decimal.Decimal) json.Number { return json.Number(d.String()) }

// UpdateProductPrice sets one product's price: PUT V1/products/{sku}. It
// saves at the scope of the base URL's store code (use "all" for global).
func (c *Client) UpdateProductPrice(ctx context.Context, sku string, price decimal.Decimal) error {
	body := map[string]any{"product": productPrice{SKU: sku, Price: number(price)}}
	return c.Do(ctx, http.MethodPut, "V1/products/"+url.PathEscape(sku), nil, body, nil)
}

type productPrice struct {
	SKU   string      `json:"sku"`
	Price json.Number `json:"price"`
}

// BasePrice is one row of V1/products/base-prices.
type BasePrice struct {
	SKU     string
	Price   decimal.Decimal
	StoreID int64 // 0 = global
}

func (p BasePrice) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		SKU     string      `json:"sku"`
		Price   json.Number `json:"price"`
		StoreID int64       `json:"store_id"`
	}{p.SKU, number(p.Price), p.StoreID})
}

// ItemFailure is one row a batch endpoint rejected although it answered 200.
type ItemFailure struct {
	SKU        string          // the submitted SKU the failure names ("" if none matched)
	Message    string          // template
	Parameters json.RawMessage // list or map
	Rendered   string
}

// PartialFailureError lists the rejected rows of a batch; the others were
// saved. errors.Is(err, ErrPartialFailure) holds.
type PartialFailureError struct {
	Endpoint string
	Failures []ItemFailure
	Total    int // rows submitted
}

func (e *PartialFailureError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "commerce: %s: %d of %d rows rejected", e.Endpoint, len(e.Failures), e.Total)
	for i, f := range e.Failures {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failures)-10)
			break
		}
		if f.SKU != "" {
			b.WriteString("; " + f.SKU + ": " + f.Rendered)
		} else {
			b.WriteString("; " + f.Rendered)
		}
	}
	return b.String()
}

func (e *PartialFailureError) Is(target error) bool { return target == ErrPartialFailure }

// SKUs lists the rejected SKUs.
func (e *PartialFailureError) SKUs() []string {
	var out []string
	for _, f := range e.Failures {
		if f.SKU != "" {
			out = append(out, f.SKU)
		}
	}
	return out
}

// UpdateBasePrices writes prices in chunks (WithBatchSize, default 20) via
// POST V1/products/base-prices. Commerce answers 200 with the rejected rows;
// they come back as one *PartialFailureError after every chunk was sent. A
// chunk refused as a whole with a 400 is isolated as UpdateSourceItems
// describes, so one bad row never blocks the others.
func (c *Client) UpdateBasePrices(ctx context.Context, prices []BasePrice) error {
	const endpoint = "V1/products/base-prices"
	send := func(chunk []BasePrice) ([]ItemMessage, error) {
		var rejected []ItemMessage
		err := c.Do(ctx, http.MethodPost, endpoint, nil, map[string]any{"prices": chunk}, &rejected)
		return rejected, err
	}
	return writeChunks(endpoint, prices, c.batchSize, func(p BasePrice) string { return p.SKU }, send)
}

// writeChunks sends rows in chunks and collects the rejected ones. A chunk
// Commerce refuses with a 400 is not given up: the rows its errors name
// (by SKU) are rejected and the rest is sent again; when the errors name
// no row, each row is sent alone, so the failure lands on the rows that
// cause it. Any other error (5xx, 401, network) stops and is returned.
func writeChunks[T any](endpoint string, rows []T, size int, sku func(T) string, send func([]T) ([]ItemMessage, error)) error {
	var failures []ItemFailure
	var write func(chunk []T) error
	write = func(chunk []T) error {
		skus := make([]string, len(chunk))
		for i, r := range chunk {
			skus[i] = sku(r)
		}
		rejected, err := send(chunk)
		var e *Error
		if err == nil {
			for _, r := range rejected {
				failures = append(failures, ItemFailure{SKU: matchSKU(r.Parameters, skus), Message: r.Message,
					Parameters: r.Parameters, Rendered: r.Rendered()})
			}
			return nil
		}
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
			return err
		}
		if len(chunk) == 1 {
			f := ItemFailure{SKU: skus[0], Message: e.Message, Parameters: e.Parameters, Rendered: e.Rendered}
			if len(e.Errors) > 0 {
				f.Message, f.Parameters, f.Rendered = e.Errors[0].Message, e.Errors[0].Parameters, e.Errors[0].Rendered()
			}
			if f.Rendered == "" {
				f.Rendered = e.Error()
			}
			failures = append(failures, f)
			return nil
		}
		bad := map[string]bool{}
		var named []ItemFailure
		for _, sub := range e.Errors {
			s := matchSKU(sub.Parameters, skus)
			if s == "" || !slices.Contains(skus, s) {
				bad = nil
				break
			}
			if !bad[s] {
				named = append(named, ItemFailure{SKU: s, Message: sub.Message, Parameters: sub.Parameters, Rendered: sub.Rendered()})
			}
			bad[s] = true
		}
		if len(bad) == 0 {
			for _, r := range chunk {
				if err := write([]T{r}); err != nil {
					return err
				}
			}
			return nil
		}
		failures = append(failures, named...)
		var rest []T
		for _, r := range chunk {
			if !bad[sku(r)] {
				rest = append(rest, r)
			}
		}
		if len(rest) == 0 {
			return nil
		}
		return write(rest)
	}
	for start := 0; start < len(rows); start += size {
		end := min(start+size, len(rows))
		if err := write(rows[start:end]); err != nil {
			return fmt.Errorf("rows %d-%d: %w", start, end-1, err)
		}
	}
	if len(failures) > 0 {
		return &PartialFailureError{Endpoint: endpoint, Failures: failures, Total: len(rows)}
	}
	return nil
}

// matchSKU finds which submitted SKU a failure's parameters name.
func matchSKU(params json.RawMessage, skus []string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(params, &m) == nil {
		for k, v := range m {
			if strings.EqualFold(k, "sku") {
				return paramText(v)
			}
		}
	}
	for _, p := range paramStrings(params) {
		for _, s := range skus {
			if p == s {
				return s
			}
		}
	}
	return ""
}

// SourceItem is one MSI source item (ref §10).
type SourceItem struct {
	SKU        string
	SourceCode string // "default" for single-source shops
	Quantity   decimal.Decimal
	InStock    bool
}

func (s SourceItem) MarshalJSON() ([]byte, error) {
	status := 0
	if s.InStock {
		status = 1
	}
	return json.Marshal(struct {
		SKU        string      `json:"sku"`
		SourceCode string      `json:"source_code"`
		Quantity   json.Number `json:"quantity"`
		Status     int         `json:"status"`
	}{s.SKU, s.SourceCode, number(s.Quantity), status})
}

// UpdateSourceItems writes MSI stock in chunks: POST V1/inventory/source-items.
// Commerce validates a whole request and refuses it with a 400 listing the
// bad rows (e.g. `Product with SKU "X" does not exist.`); the other rows are
// sent again without them, and the rejected ones come back as one
// *PartialFailureError after every chunk was sent.
func (c *Client) UpdateSourceItems(ctx context.Context, items []SourceItem) error {
	const endpoint = "V1/inventory/source-items"
	send := func(chunk []SourceItem) ([]ItemMessage, error) {
		var rejected []ItemMessage
		err := c.Do(ctx, http.MethodPost, endpoint, nil, map[string]any{"sourceItems": chunk}, &rejected)
		return rejected, err
	}
	return writeChunks(endpoint, items, c.batchSize, func(s SourceItem) string { return s.SKU }, send)
}

// StockItem is the legacy (non-MSI) stock item.
type StockItem struct {
	ItemID    Int             `json:"item_id"`
	ProductID Int             `json:"product_id"`
	StockID   Int             `json:"stock_id"`
	Qty       decimal.Decimal `json:"qty"`
	IsInStock Bool            `json:"is_in_stock"`
}

// GetStockItem reads GET V1/stockItems/{sku}.
func (c *Client) GetStockItem(ctx context.Context, sku string) (StockItem, error) {
	var si StockItem
	err := c.Do(ctx, http.MethodGet, "V1/stockItems/"+url.PathEscape(sku), nil, nil, &si)
	return si, err
}

// UpdateLegacyStock sets legacy stock: it reads the item id, then
// PUT V1/products/{sku}/stockItems/{itemId}.
func (c *Client) UpdateLegacyStock(ctx context.Context, sku string, qty decimal.Decimal, inStock bool) error {
	si, err := c.GetStockItem(ctx, sku)
	if err != nil {
		return err
	}
	if si.ItemID == 0 {
		return fmt.Errorf("commerce: stock item of %q has no item_id", sku)
	}
	body := map[string]any{"stockItem": map[string]any{"qty": number(qty), "is_in_stock": inStock}}
	path := "V1/products/" + url.PathEscape(sku) + "/stockItems/" + strconv.FormatInt(int64(si.ItemID), 10)
	return c.Do(ctx, http.MethodPut, path, nil, body, nil)
}
