package commerce

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// Invoice is the REST invoice (ref §9).
type Invoice struct {
	EntityID          Int             `json:"entity_id"`
	IncrementID       string          `json:"increment_id"`
	OrderID           Int             `json:"order_id"` // the order's entity_id
	StoreID           Int             `json:"store_id"`
	State             Int             `json:"state"` // 1 open, 2 paid, 3 canceled
	GrandTotal        decimal.Decimal `json:"grand_total"`
	BaseGrandTotal    decimal.Decimal `json:"base_grand_total"`
	Subtotal          decimal.Decimal `json:"subtotal"`
	TaxAmount         decimal.Decimal `json:"tax_amount"`
	DiscountAmount    decimal.Decimal `json:"discount_amount"`
	ShippingAmount    decimal.Decimal `json:"shipping_amount"`
	TotalQty          decimal.Decimal `json:"total_qty"`
	OrderCurrencyCode string          `json:"order_currency_code"`
	TransactionID     string          `json:"transaction_id,omitempty"`
	CreatedAt         Time            `json:"created_at"`
	UpdatedAt         Time            `json:"updated_at"`
	Items             []InvoiceItem   `json:"items"`
}

// InvoiceItem is one invoice line.
type InvoiceItem struct {
	EntityID       Int             `json:"entity_id"`
	OrderItemID    Int             `json:"order_item_id"`
	SKU            string          `json:"sku"`
	Name           string          `json:"name"`
	Qty            decimal.Decimal `json:"qty"`
	Price          decimal.Decimal `json:"price"`
	RowTotal       decimal.Decimal `json:"row_total"`
	TaxAmount      decimal.Decimal `json:"tax_amount"`
	DiscountAmount decimal.Decimal `json:"discount_amount"`
}

// Captured reports a paid invoice.
func (i Invoice) Captured() bool { return i.State == InvoiceStatePaid }

func invoiceKey(i Invoice) (time.Time, int64) { return i.UpdatedAt.Time, int64(i.EntityID) }

// GetInvoice reads one invoice by entity_id.
func (c *Client) GetInvoice(ctx context.Context, entityID int64) (Invoice, error) {
	var inv Invoice
	err := c.Do(ctx, http.MethodGet, "V1/invoices/"+strconv.FormatInt(entityID, 10), nil, nil, &inv)
	return inv, err
}

// ListInvoices runs one search.
func (c *Client) ListInvoices(ctx context.Context, sc SearchCriteria) (SearchResult[Invoice], error) {
	var res SearchResult[Invoice]
	err := c.Do(ctx, http.MethodGet, "V1/invoices", sc.Values(), nil, &res)
	return res, err
}

// PollInvoices is PollOrders for invoices.
func (c *Client) PollInvoices(ctx context.Context, cur Cursor, opt PollOptions,
	fn func(ctx context.Context, page []Invoice, next Cursor) error) (Cursor, error) {
	return pollKeyset(ctx, c, "V1/invoices", cur, opt, invoiceKey, fn)
}

// WalkInvoices is WalkOrders for invoices.
func (c *Client) WalkInvoices(ctx context.Context, sc SearchCriteria, fn func(ctx context.Context, page []Invoice) error) error {
	return walk(ctx, c, "V1/invoices", sc, func(i Invoice) int64 { return int64(i.EntityID) }, fn)
}
