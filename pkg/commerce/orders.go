package commerce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// Order is the REST order (ref §7). Money is decimal; ids tolerate strings.
type Order struct {
	EntityID            Int             `json:"entity_id"`
	IncrementID         string          `json:"increment_id"`
	QuoteID             Int             `json:"quote_id,omitempty"`
	StoreID             Int             `json:"store_id"`
	State               string          `json:"state"`
	Status              string          `json:"status"`
	CreatedAt           Time            `json:"created_at"`
	UpdatedAt           Time            `json:"updated_at"`
	CustomerEmail       string          `json:"customer_email"`
	CustomerFirstname   string          `json:"customer_firstname,omitempty"`
	CustomerLastname    string          `json:"customer_lastname,omitempty"`
	CustomerID          Int             `json:"customer_id,omitempty"`
	CustomerIsGuest     Bool            `json:"customer_is_guest"`
	CustomerGroupID     Int             `json:"customer_group_id,omitempty"`
	OrderCurrencyCode   string          `json:"order_currency_code"`
	BaseCurrencyCode    string          `json:"base_currency_code,omitempty"`
	GlobalCurrencyCode  string          `json:"global_currency_code,omitempty"`
	StoreCurrencyCode   string          `json:"store_currency_code,omitempty"`
	GrandTotal          decimal.Decimal `json:"grand_total"`
	BaseGrandTotal      decimal.Decimal `json:"base_grand_total"`
	Subtotal            decimal.Decimal `json:"subtotal"`
	SubtotalInclTax     decimal.Decimal `json:"subtotal_incl_tax"`
	TaxAmount           decimal.Decimal `json:"tax_amount"`
	DiscountAmount      decimal.Decimal `json:"discount_amount"` // negative
	ShippingAmount      decimal.Decimal `json:"shipping_amount"`
	ShippingInclTax     decimal.Decimal `json:"shipping_incl_tax"`
	ShippingDescription string          `json:"shipping_description,omitempty"`
	CouponCode          string          `json:"coupon_code,omitempty"`
	DiscountDescription string          `json:"discount_description,omitempty"`
	TotalDue            decimal.Decimal `json:"total_due"`
	TotalQtyOrdered     decimal.Decimal `json:"total_qty_ordered"`
	TotalItemCount      Int             `json:"total_item_count"`
	Weight              decimal.Decimal `json:"weight"`
	Items               []OrderItem     `json:"items"`
	BillingAddress      *Address        `json:"billing_address,omitempty"`
	Payment             *Payment        `json:"payment,omitempty"`
	ExtensionAttributes OrderExtension  `json:"extension_attributes"`
}

// OrderItem is one order line. Configurable and bundle products give a parent
// line and child lines (ParentItemID set).
type OrderItem struct {
	ItemID          Int             `json:"item_id"`
	OrderID         Int             `json:"order_id"`
	ParentItemID    Int             `json:"parent_item_id,omitempty"`
	SKU             string          `json:"sku"`
	Name            string          `json:"name"`
	ProductID       Int             `json:"product_id"`
	ProductType     string          `json:"product_type"`
	QtyOrdered      decimal.Decimal `json:"qty_ordered"`
	QtyInvoiced     decimal.Decimal `json:"qty_invoiced"`
	QtyShipped      decimal.Decimal `json:"qty_shipped"`
	QtyRefunded     decimal.Decimal `json:"qty_refunded"`
	QtyCanceled     decimal.Decimal `json:"qty_canceled"`
	Price           decimal.Decimal `json:"price"`
	BasePrice       decimal.Decimal `json:"base_price"`
	OriginalPrice   decimal.Decimal `json:"original_price"`
	PriceInclTax    decimal.Decimal `json:"price_incl_tax"`
	RowTotal        decimal.Decimal `json:"row_total"`
	RowTotalInclTax decimal.Decimal `json:"row_total_incl_tax"`
	TaxAmount       decimal.Decimal `json:"tax_amount"`
	TaxPercent      decimal.Decimal `json:"tax_percent"`
	DiscountAmount  decimal.Decimal `json:"discount_amount"`
	DiscountPercent decimal.Decimal `json:"discount_percent"`
	AppliedRuleIDs  string          `json:"applied_rule_ids,omitempty"`
}

// Address is an order address.
type Address struct {
	AddressType string   `json:"address_type"`
	Firstname   string   `json:"firstname"`
	Lastname    string   `json:"lastname"`
	Company     string   `json:"company,omitempty"`
	Street      []string `json:"street"`
	City        string   `json:"city"`
	Region      string   `json:"region,omitempty"`
	RegionCode  string   `json:"region_code,omitempty"`
	RegionID    Int      `json:"region_id,omitempty"`
	Postcode    string   `json:"postcode"`
	CountryID   string   `json:"country_id"`
	Telephone   string   `json:"telephone"`
	Email       string   `json:"email,omitempty"`
}

// Payment is the order payment.
type Payment struct {
	Method                string          `json:"method"`
	AmountOrdered         decimal.Decimal `json:"amount_ordered"`
	CcLast4               string          `json:"cc_last4,omitempty"`
	AdditionalInformation json.RawMessage `json:"additional_information,omitempty"`
}

// OrderExtension is extension_attributes; it accepts PHP's [] for empty.
type OrderExtension struct {
	ShippingAssignments []ShippingAssignment `json:"shipping_assignments,omitempty"`
	// PaymentAdditionalInfo is [{"key":"method_title","value":...}, ...],
	// kept raw: its values are not always strings.
	PaymentAdditionalInfo json.RawMessage `json:"payment_additional_info,omitempty"`
}

func (e *OrderExtension) UnmarshalJSON(b []byte) error {
	if isEmptyObject(b) {
		*e = OrderExtension{}
		return nil
	}
	type plain OrderExtension
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*e = OrderExtension(p)
	return nil
}

// ShippingAssignment carries the shipping address and method.
type ShippingAssignment struct {
	Shipping struct {
		Address *Address `json:"address,omitempty"`
		Method  string   `json:"method"`
		Total   struct {
			ShippingAmount  decimal.Decimal `json:"shipping_amount"`
			ShippingInclTax decimal.Decimal `json:"shipping_incl_tax"`
		} `json:"total"`
	} `json:"shipping"`
}

// ShippingAddress is the first shipping assignment's address; nil for
// virtual orders without one (ref §7).
func (o Order) ShippingAddress() *Address {
	for _, sa := range o.ExtensionAttributes.ShippingAssignments {
		if sa.Shipping.Address != nil {
			return sa.Shipping.Address
		}
	}
	return nil
}

// ShippingMethod is the first shipping assignment's method, e.g. flatrate_flatrate.
func (o Order) ShippingMethod() string {
	for _, sa := range o.ExtensionAttributes.ShippingAssignments {
		if sa.Shipping.Method != "" {
			return sa.Shipping.Method
		}
	}
	return ""
}

func orderKey(o Order) (time.Time, int64) { return o.UpdatedAt.Time, int64(o.EntityID) }

// GetOrder reads one order by entity_id.
func (c *Client) GetOrder(ctx context.Context, entityID int64) (Order, error) {
	var o Order
	err := c.Do(ctx, http.MethodGet, "V1/orders/"+strconv.FormatInt(entityID, 10), nil, nil, &o)
	return o, err
}

// GetOrderByIncrementID finds an order by its increment_id (the business
// key); an order not visible yet gives an error matching ErrNotFound.
func (c *Client) GetOrderByIncrementID(ctx context.Context, incrementID string) (Order, error) {
	res, err := c.ListOrders(ctx, SearchCriteria{}.Where(F("increment_id", CondEq, incrementID)).Page(2, 1))
	if err != nil {
		return Order{}, err
	}
	for _, o := range res.Items {
		if o.IncrementID == incrementID {
			return o, nil
		}
	}
	return Order{}, fmt.Errorf("commerce: order increment_id %q: %w", incrementID, ErrNotFound)
}

// ListOrders runs one search.
func (c *Client) ListOrders(ctx context.Context, sc SearchCriteria) (SearchResult[Order], error) {
	var res SearchResult[Order]
	err := c.Do(ctx, http.MethodGet, "V1/orders", sc.Values(), nil, &res)
	return res, err
}

// PollOrders reads orders changed after cur, in (updated_at, entity_id)
// order, a page at a time; fn gets each page with the cursor after it (store
// it once the page is handled). It returns the last cursor reached.
func (c *Client) PollOrders(ctx context.Context, cur Cursor, opt PollOptions,
	fn func(ctx context.Context, page []Order, next Cursor) error) (Cursor, error) {
	return pollKeyset(ctx, c, "V1/orders", cur, opt, orderKey, fn)
}

// WalkOrders pages through a search (pageSize from sc, default 100), handing
// each order to fn once.
func (c *Client) WalkOrders(ctx context.Context, sc SearchCriteria, fn func(ctx context.Context, page []Order) error) error {
	return walk(ctx, c, "V1/orders", sc, func(o Order) int64 { return int64(o.EntityID) }, fn)
}
