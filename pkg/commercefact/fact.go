package commercefact

import (
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// Fact is one storefront fact, whichever shape carried it: exactly one of
// Order, Invoice and Customer is set, as Kind says.
//
// A part listed in Missing was not in the shape that carried the fact; its
// fields are zero (never half filled), and a Completer fills them from
// REST. Every field of a part that is not missing equals what Commerce's
// REST API says about the record. Money and quantities are normalised
// decimals (trailing zeros dropped), so two facts of the same record are
// reflect.DeepEqual and marshal to the same JSON whichever shape they came
// from.
type Fact struct {
	// Kind is event.OrderPlaced, event.InvoiceCaptured or event.CustomerCreated.
	Kind string `json:"kind"`
	// Store is the Commerce store code the fact was filed under (the
	// envelope's source commerce://<store>, checked against the subject).
	Store string `json:"store"`

	Order    *Order    `json:"order,omitempty"`
	Invoice  *Invoice  `json:"invoice,omitempty"`
	Customer *Customer `json:"customer,omitempty"`

	// Missing lists the parts the carrying shape lacks, in the order of the
	// Part constants. Empty means complete.
	Missing []Part `json:"missing,omitempty"`

	// Source says how the fact travelled. It is not part of the fact's
	// content: the same record read from two shapes differs only here.
	Source Source `json:"source"`
}

// Complete reports that no part is missing.
func (f Fact) Complete() bool { return len(f.Missing) == 0 }

// Lacks reports whether part p is missing.
func (f Fact) Lacks(p Part) bool { return slices.Contains(f.Missing, p) }

// IncrementID is the business key of an order or invoice; for a customer
// it is the buyer key.
func (f Fact) IncrementID() string {
	switch {
	case f.Order != nil:
		return f.Order.IncrementID
	case f.Invoice != nil:
		return f.Invoice.IncrementID
	case f.Customer != nil:
		return f.Customer.BuyerKey
	}
	return ""
}

// Key is the audit key of the fact (Mlc-Key), e.g. order:default:000000042.
func (f Fact) Key() string {
	return event.Key(entityOf(f.Kind), f.Store, f.IncrementID())
}

func entityOf(kind string) string { return event.CommerceFact{Kind: kind}.Entity() }

// Shape is the form of a COMMERCE message's data (the envelope's dataschema).
type Shape string

const (
	// ShapeWebhook is a Commerce Webhooks body (event.SchemaWebhook): the
	// order, invoice or customer MODEL data as PHP encoded it.
	ShapeWebhook Shape = "webhook"
	// ShapeIOEvent is an Adobe I/O Events CloudEvent (event.SchemaIOEvent):
	// only the fields the merchant subscribed to.
	ShapeIOEvent Shape = "io-event"
	// ShapeREST is a REST record as the backfill poll read it
	// (event.SchemaRESTOrder, event.SchemaRESTInvoice), or one a Completer read.
	ShapeREST Shape = "rest"
)

// Source is the provenance of a fact.
type Source struct {
	Shape       Shape     `json:"shape"`
	Schema      string    `json:"schema,omitempty"`      // the envelope's dataschema
	Origin      string    `json:"origin,omitempty"`      // Mlc-Origin: webhook, poll, io-events, replay
	EventID     string    `json:"event_id,omitempty"`    // CloudEvents id of the COMMERCE event
	EventTime   time.Time `json:"event_time,omitzero"`   // CloudEvents time: when ingest stored it
	MsgID       string    `json:"msg_id,omitempty"`      // Nats-Msg-Id
	Key         string    `json:"key,omitempty"`         // Mlc-Key
	Causation   string    `json:"causation,omitempty"`   // Mlc-Causation (set on replays)
	Traceparent string    `json:"traceparent,omitempty"` // W3C trace context
	// CommerceEvent is the Commerce event that fired, e.g.
	// sales_order_place_after ("" for REST records).
	CommerceEvent string `json:"commerce_event,omitempty"`
	// IOEventID is the I/O Events event_id (its dedup key), I/O Events only.
	IOEventID string `json:"io_event_id,omitempty"`
	// Completed is set by a Completer that re-read the record through REST.
	Completed bool `json:"completed,omitempty"`
}

// Part names a group of fields that a shape carries whole or not at all.
type Part string

// Parts, in the order Missing lists them. Which kinds have which parts is
// said on each; a part that does not apply to a kind is never missing.
const (
	// PartEntityID: Order.EntityID, Invoice.EntityID, Customer.ID. The order
	// webhook fires before the order is saved, so it has none (ref §3); a
	// customer webhook may name the buyer by e-mail only.
	PartEntityID Part = "entity_id"
	// PartStoreID: StoreID (and Customer.WebsiteID).
	PartStoreID Part = "store_id"
	// PartTimestamps: CreatedAt and UpdatedAt (set when the record is saved).
	PartTimestamps Part = "timestamps"
	// PartState: Order.State and Order.Status, Invoice.State.
	PartState Part = "state"
	// PartCurrency: Currency.
	PartCurrency Part = "currency"
	// PartCustomer: who the buyer is, and so the buyer key:
	// Order.Customer.ID, Guest and Email; Customer.Email.
	PartCustomer Part = "customer"
	// PartCustomerName: Firstname and Lastname of Order.Customer and Customer.
	PartCustomerName Part = "customer_name"
	// PartCustomerGroup: Order.Customer.GroupID, Customer.GroupID.
	PartCustomerGroup Part = "customer_group"
	// PartOrderID: Invoice.OrderID (the order's entity id).
	PartOrderID Part = "order_id"
	// PartOrderIncrementID: Invoice.OrderIncrementID. REST invoices do not
	// carry it; a Completer reads it from the order.
	PartOrderIncrementID Part = "order_increment_id"
	// PartLines: Lines (every line with its SKU, name, type, quantity,
	// price and row total; for invoices order item id, SKU, quantity, price
	// and row total). When missing, Lines is nil and the line parts below
	// are not listed.
	PartLines Part = "lines"
	// PartLineIDs: Line.ItemID of every order line. Without them parent
	// links cannot be told either, so PartLineParents is listed too.
	PartLineIDs Part = "line_ids"
	// PartLineParents: Line.ParentItemID, the parent/child links of
	// configurable and bundle lines. The order webhook has none (its lines
	// are not saved yet); I/O Events only if subscribed.
	PartLineParents Part = "line_parents"
	// PartLineAmounts: Line.OriginalPrice, DiscountAmount, TaxAmount,
	// TaxPercent; InvoiceLine.TaxAmount, DiscountAmount.
	PartLineAmounts Part = "line_amounts"
	// PartBillingAddress: Order.BillingAddress.
	PartBillingAddress Part = "billing_address"
	// PartShippingAddress: Order.ShippingAddress.
	PartShippingAddress Part = "shipping_address"
	// PartAddresses: Customer.Addresses (and the default ids).
	PartAddresses Part = "addresses"
	// PartRegionCode: Address.RegionCode of every address present. Listed
	// only when there are addresses: the address models of webhooks have a
	// region name and id but no code.
	PartRegionCode Part = "region_code"
	// PartAddressDefaults: Customer.DefaultBillingID, DefaultShippingID.
	PartAddressDefaults Part = "address_defaults"
	// PartShipping: Order.Shipping (method and description).
	PartShipping Part = "shipping"
	// PartTotals: Totals, all five amounts.
	PartTotals Part = "totals"
	// PartCoupon: Order.CouponCode and Order.DiscountDescription.
	PartCoupon Part = "coupon"
	// PartPayment: Order.Payment.Method.
	PartPayment Part = "payment"
	// PartPaymentTitle: Order.Payment.Title.
	PartPaymentTitle Part = "payment_title"
)

// Order is a placed order.
type Order struct {
	// IncrementID is the order number shoppers see and the business key.
	IncrementID string `json:"increment_id"`
	// EntityID is Commerce's internal id (REST URLs); 0 when unknown.
	EntityID int64 `json:"entity_id"`
	// StoreID is the numeric store view id the order was placed in.
	StoreID int64 `json:"store_id"`
	// CreatedAt and UpdatedAt are UTC; zero when unknown.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// State is the lifecycle state (new, processing, complete, ...), Status
	// the merchant-visible status (pending, processing, ...).
	State  string `json:"state"`
	Status string `json:"status"`
	// Currency is the order (transaction) currency, e.g. USD; every amount
	// of the order is in it.
	Currency string `json:"currency"`
	// Customer is who placed the order.
	Customer Buyer `json:"customer"`
	// BuyerKey is the buyer's business key: the customer id in decimal, or
	// for guests "e" and 16 hex digits of sha256 of the e-mail (DESIGN §3);
	// "" when PartCustomer is missing.
	BuyerKey string `json:"buyer_key"`
	// Lines in Commerce's order. A configurable or bundle product is a
	// parent line followed by child lines whose ParentItemID is the
	// parent's ItemID; see Children and TopLevel.
	Lines []Line `json:"lines"`
	// BillingAddress is nil only when it is missing.
	BillingAddress *Address `json:"billing_address"`
	// ShippingAddress is nil for virtual orders (nothing to ship) or when missing.
	ShippingAddress *Address `json:"shipping_address"`
	// Shipping is the chosen method; its amount is Totals.Shipping.
	Shipping Shipping `json:"shipping"`
	// Totals are the order totals.
	Totals Totals `json:"totals"`
	// CouponCode is the applied coupon ("" when none).
	CouponCode string `json:"coupon_code,omitempty"`
	// DiscountDescription is Commerce's label of the applied discount ("" when none).
	DiscountDescription string `json:"discount_description,omitempty"`
	// Payment is the payment method.
	Payment Payment `json:"payment"`
}

// Buyer is the customer fields of an order.
type Buyer struct {
	// ID is the Commerce customer id; 0 for guests.
	ID int64 `json:"id"`
	// Guest reports an order placed without an account.
	Guest     bool   `json:"guest"`
	Email     string `json:"email"`
	Firstname string `json:"firstname"`
	Lastname  string `json:"lastname"`
	// GroupID is the customer group (0 = NOT LOGGED IN, 1 = General, ...).
	GroupID int64 `json:"group_id"`
}

// Line is one order line.
type Line struct {
	// ItemID is the line's id; ParentItemID is the parent line's ItemID
	// for a child of a configurable or bundle, else 0.
	ItemID       int64 `json:"item_id"`
	ParentItemID int64 `json:"parent_item_id"`
	// SKU is the SKU sold; on a configurable's parent line it is the chosen
	// child's SKU.
	SKU  string `json:"sku"`
	Name string `json:"name"`
	// ProductType is simple, configurable, bundle, virtual, downloadable, ...
	ProductType string `json:"product_type"`
	// Qty is the quantity ordered.
	Qty decimal.Decimal `json:"qty"`
	// Price is the unit price actually charged (0 on a configurable's
	// child line: the parent carries the price); OriginalPrice is the
	// catalogue price.
	Price         decimal.Decimal `json:"price"`
	OriginalPrice decimal.Decimal `json:"original_price"`
	// RowTotal is Price × Qty before discount and tax.
	RowTotal decimal.Decimal `json:"row_total"`
	// DiscountAmount is the line's discount, positive as Commerce stores it.
	DiscountAmount decimal.Decimal `json:"discount_amount"`
	// TaxAmount is the line's tax; TaxPercent its rate in percent (8.25).
	TaxAmount  decimal.Decimal `json:"tax_amount"`
	TaxPercent decimal.Decimal `json:"tax_percent"`
}

// IsChild reports a child line of a configurable or bundle.
func (l Line) IsChild() bool { return l.ParentItemID != 0 }

// Children returns the child lines of the line with item id parent.
func (o Order) Children(parent int64) []Line {
	var out []Line
	for _, l := range o.Lines {
		if parent != 0 && l.ParentItemID == parent {
			out = append(out, l)
		}
	}
	return out
}

// TopLevel returns the lines that are not children of another line. Only
// meaningful when PartLineParents is not missing.
func (o Order) TopLevel() []Line {
	var out []Line
	for _, l := range o.Lines {
		if !l.IsChild() {
			out = append(out, l)
		}
	}
	return out
}

// Address is an order or customer address.
type Address struct {
	// ID is the customer address id (address book entries); 0 on orders.
	ID        int64  `json:"id,omitempty"`
	Firstname string `json:"firstname"`
	Lastname  string `json:"lastname"`
	Company   string `json:"company,omitempty"`
	// Street is one entry per street line.
	Street []string `json:"street"`
	City   string   `json:"city"`
	// Region is the region's name (Texas), RegionCode its code (TX; often
	// empty outside the US), RegionID Commerce's directory id.
	Region     string `json:"region,omitempty"`
	RegionCode string `json:"region_code,omitempty"`
	RegionID   int64  `json:"region_id,omitempty"`
	Postcode   string `json:"postcode"`
	// CountryID is the ISO 3166-1 alpha-2 code.
	CountryID string `json:"country_id"`
	Telephone string `json:"telephone"`
	// Email is the order address's e-mail; customer address book entries
	// have none in Commerce, so it is always empty there.
	Email string `json:"email,omitempty"`
}

// Shipping is an order's shipping method.
type Shipping struct {
	// Method is carrier_method, e.g. flatrate_flatrate ("" for virtual orders).
	Method string `json:"method"`
	// Description is what the shopper saw, e.g. "Flat Rate - Fixed".
	Description string `json:"description"`
}

// Totals are the money totals of an order or invoice, in its currency.
type Totals struct {
	// Subtotal is the sum of the top-level row totals.
	Subtotal decimal.Decimal `json:"subtotal"`
	// Discount is negative (or zero), as Commerce reports it.
	Discount decimal.Decimal `json:"discount"`
	Tax      decimal.Decimal `json:"tax"`
	Shipping decimal.Decimal `json:"shipping"`
	// GrandTotal is what the shopper pays: subtotal + discount + tax + shipping.
	GrandTotal decimal.Decimal `json:"grand_total"`
}

// Payment is an order's payment method.
type Payment struct {
	// Method is the method code, e.g. checkmo.
	Method string `json:"method"`
	// Title is its label, e.g. "Check / Money order".
	Title string `json:"title"`
}

// Invoice is a Commerce invoice.
type Invoice struct {
	// IncrementID is the invoice number and business key.
	IncrementID string `json:"increment_id"`
	// EntityID is Commerce's internal id; 0 when unknown.
	EntityID int64 `json:"entity_id"`
	// OrderID is the order's entity id, OrderIncrementID its increment id.
	OrderID          int64  `json:"order_id"`
	OrderIncrementID string `json:"order_increment_id"`
	StoreID          int64  `json:"store_id"`
	// State is 1 open, 2 paid, 3 canceled; see Captured.
	State     int       `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Currency  string    `json:"currency"`
	// Lines are the invoiced quantities; a partial invoice has fewer or
	// smaller lines than its order.
	Lines  []InvoiceLine `json:"lines"`
	Totals Totals        `json:"totals"`
}

// Invoice states (ref §9).
const (
	InvoiceOpen     = 1
	InvoicePaid     = 2
	InvoiceCanceled = 3
)

// Captured reports a paid invoice, the only state the connector acts on.
func (i Invoice) Captured() bool { return i.State == InvoicePaid }

// InvoiceLine is one invoice line.
type InvoiceLine struct {
	// OrderItemID is the invoiced order line's Line.ItemID.
	OrderItemID int64           `json:"order_item_id"`
	SKU         string          `json:"sku"`
	Qty         decimal.Decimal `json:"qty"`
	Price       decimal.Decimal `json:"price"`
	RowTotal    decimal.Decimal `json:"row_total"`
	TaxAmount   decimal.Decimal `json:"tax_amount"`
	// DiscountAmount is positive, as Commerce stores it.
	DiscountAmount decimal.Decimal `json:"discount_amount"`
}

// Customer is a registered storefront customer.
type Customer struct {
	// ID is the Commerce customer id; 0 when only the e-mail is known.
	ID        int64  `json:"id"`
	Email     string `json:"email"`
	Firstname string `json:"firstname"`
	Lastname  string `json:"lastname"`
	// BuyerKey is the same key Order.BuyerKey gives this customer's orders.
	BuyerKey  string    `json:"buyer_key"`
	GroupID   int64     `json:"group_id"`
	WebsiteID int64     `json:"website_id"`
	StoreID   int64     `json:"store_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Addresses is the address book (Address.ID set, Email empty).
	Addresses []Address `json:"addresses"`
	// DefaultBillingID and DefaultShippingID are the Address.ID of the
	// default addresses, 0 when none.
	DefaultBillingID  int64 `json:"default_billing_id,omitempty"`
	DefaultShippingID int64 `json:"default_shipping_id,omitempty"`
}

// partOrder fixes the order of Missing.
func partOrder() []Part {
	return []Part{PartEntityID, PartStoreID, PartTimestamps, PartState, PartCurrency, PartCustomer, PartCustomerName, PartCustomerGroup,
		PartOrderID, PartOrderIncrementID, PartLines, PartLineIDs, PartLineParents, PartLineAmounts,
		PartBillingAddress, PartShippingAddress, PartAddresses, PartRegionCode, PartAddressDefaults,
		PartShipping, PartTotals, PartCoupon, PartPayment, PartPaymentTitle}
}

// sortParts orders ps as partOrder and drops duplicates.
func sortParts(ps []Part) []Part {
	if len(ps) == 0 {
		return nil
	}
	var out []Part
	for _, p := range partOrder() {
		if slices.Contains(ps, p) {
			out = append(out, p)
		}
	}
	return out
}

// clearPart zeroes the fields of part p in f, so that a missing part is
// never half filled.
func clearPart(f *Fact, p Part) {
	switch {
	case f.Order != nil:
		clearOrder(f.Order, p)
	case f.Invoice != nil:
		clearInvoice(f.Invoice, p)
	case f.Customer != nil:
		clearCustomer(f.Customer, p)
	}
}

func clearOrder(o *Order, p Part) {
	switch p {
	case PartEntityID:
		o.EntityID = 0
	case PartStoreID:
		o.StoreID = 0
	case PartTimestamps:
		o.CreatedAt, o.UpdatedAt = time.Time{}, time.Time{}
	case PartState:
		o.State, o.Status = "", ""
	case PartCurrency:
		o.Currency = ""
	case PartCustomer:
		o.Customer.ID, o.Customer.Guest, o.Customer.Email = 0, false, ""
	case PartCustomerName:
		o.Customer.Firstname, o.Customer.Lastname = "", ""
	case PartCustomerGroup:
		o.Customer.GroupID = 0
	case PartLines:
		o.Lines = nil
	case PartLineIDs:
		for i := range o.Lines {
			o.Lines[i].ItemID = 0
		}
	case PartLineParents:
		for i := range o.Lines {
			o.Lines[i].ParentItemID = 0
		}
	case PartLineAmounts:
		for i := range o.Lines {
			l := &o.Lines[i]
			l.OriginalPrice, l.DiscountAmount, l.TaxAmount, l.TaxPercent = decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}, decimal.Decimal{}
		}
	case PartBillingAddress:
		o.BillingAddress = nil
	case PartShippingAddress:
		o.ShippingAddress = nil
	case PartRegionCode:
		for _, a := range []*Address{o.BillingAddress, o.ShippingAddress} {
			if a != nil {
				a.RegionCode = ""
			}
		}
	case PartShipping:
		o.Shipping = Shipping{}
	case PartTotals:
		o.Totals = Totals{}
	case PartCoupon:
		o.CouponCode, o.DiscountDescription = "", ""
	case PartPayment:
		o.Payment.Method = ""
	case PartPaymentTitle:
		o.Payment.Title = ""
	}
}

func clearInvoice(inv *Invoice, p Part) {
	switch p {
	case PartEntityID:
		inv.EntityID = 0
	case PartStoreID:
		inv.StoreID = 0
	case PartTimestamps:
		inv.CreatedAt, inv.UpdatedAt = time.Time{}, time.Time{}
	case PartState:
		inv.State = 0
	case PartCurrency:
		inv.Currency = ""
	case PartOrderID:
		inv.OrderID = 0
	case PartOrderIncrementID:
		inv.OrderIncrementID = ""
	case PartLines:
		inv.Lines = nil
	case PartLineAmounts:
		for i := range inv.Lines {
			inv.Lines[i].TaxAmount, inv.Lines[i].DiscountAmount = decimal.Decimal{}, decimal.Decimal{}
		}
	case PartTotals:
		inv.Totals = Totals{}
	}
}

func clearCustomer(c *Customer, p Part) {
	switch p {
	case PartEntityID:
		c.ID = 0
	case PartStoreID:
		c.StoreID, c.WebsiteID = 0, 0
	case PartTimestamps:
		c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	case PartCustomer:
		c.Email = ""
	case PartCustomerName:
		c.Firstname, c.Lastname = "", ""
	case PartCustomerGroup:
		c.GroupID = 0
	case PartAddresses:
		c.Addresses, c.DefaultBillingID, c.DefaultShippingID = nil, 0, 0
	case PartRegionCode:
		for i := range c.Addresses {
			c.Addresses[i].RegionCode = ""
		}
	case PartAddressDefaults:
		c.DefaultBillingID, c.DefaultShippingID = 0, 0
	}
}

// finish applies Missing: sorts it, zeroes every missing part and derives
// the buyer keys from what is left.
func finish(f *Fact, missing []Part) {
	f.Missing = sortParts(missing)
	for _, p := range f.Missing {
		clearPart(f, p)
	}
	switch {
	case f.Order != nil:
		f.Order.BuyerKey = event.BuyerKey(f.Order.Customer.ID, f.Order.Customer.Email)
	case f.Customer != nil:
		f.Customer.BuyerKey = event.BuyerKey(f.Customer.ID, f.Customer.Email)
	}
}
