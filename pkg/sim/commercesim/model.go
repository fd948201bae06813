package commercesim

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/sim/catalog"
)

// Commerce timestamps: "YYYY-MM-DD HH:MM:SS", UTC, no zone.
const timeLayout = "2006-01-02 15:04:05"

func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

// num renders a decimal as an exact JSON number.
func num(d decimal.Decimal) json.Number { return json.Number(d.String()) }

// Address is an order or customer address.
type Address struct {
	ID         int
	Firstname  string
	Lastname   string
	Company    string
	Street     []string
	City       string
	Region     string
	RegionCode string
	RegionID   int
	Postcode   string
	CountryID  string
	Telephone  string
	Email      string
}

func (a Address) rest(addrType string) Object {
	street := make([]any, len(a.Street))
	for i, s := range a.Street {
		street[i] = s
	}
	o := Object{{"address_type", addrType}, {"city", a.City}}
	if a.Company != "" {
		o = append(o, KV{"company", a.Company})
	}
	o = append(o, Object{
		{"country_id", a.CountryID}, {"email", a.Email}, {"firstname", a.Firstname}, {"lastname", a.Lastname},
		{"postcode", a.Postcode}, {"region", a.Region}, {"region_code", a.RegionCode}, {"region_id", a.RegionID},
		{"street", street}, {"telephone", a.Telephone},
	}...)
	return o
}

// customerREST is the customer address of GET V1/customers
// (Magento\Customer\Api\Data\AddressInterface): region is a
// RegionInterface object, unlike the order address's plain string; no
// address_type and no email.
func (a Address) customerREST(customerID int) Object {
	street := make([]any, len(a.Street))
	for i, s := range a.Street {
		street[i] = s
	}
	o := Object{{"id", a.ID}, {"customer_id", customerID},
		{"region", Object{{"region_code", nullIfEmpty(a.RegionCode)}, {"region", a.Region}, {"region_id", a.RegionID}}},
		{"region_id", a.RegionID}, {"country_id", a.CountryID}, {"street", street}}
	if a.Company != "" {
		o = append(o, KV{"company", a.Company})
	}
	return append(o, Object{
		{"telephone", a.Telephone}, {"postcode", a.Postcode}, {"city", a.City}, {"firstname", a.Firstname}, {"lastname", a.Lastname},
	}...)
}

// model is the address model's data: street is one newline-joined string.
func (a Address) model(addrType string) Object {
	street := ""
	for i, s := range a.Street {
		if i > 0 {
			street += "\n"
		}
		street += s
	}
	return Object{
		{"address_type", addrType}, {"firstname", a.Firstname}, {"lastname", a.Lastname}, {"company", nullIfEmpty(a.Company)},
		{"street", street}, {"city", a.City}, {"region", a.Region}, {"region_id", a.RegionID}, {"postcode", a.Postcode},
		{"country_id", a.CountryID}, {"telephone", a.Telephone}, {"email", a.Email},
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// OrderItem is one order line. Configurable and bundle products have a
// parent line and child lines (ParentItemID set, price 0).
type OrderItem struct {
	ItemID         int
	ParentItemID   int // 0 for top-level lines
	SKU            string
	Name           string
	ProductID      int
	ProductType    string // simple, configurable, bundle, virtual
	QtyOrdered     decimal.Decimal
	QtyInvoiced    decimal.Decimal
	Price          decimal.Decimal
	OriginalPrice  decimal.Decimal
	RowTotal       decimal.Decimal
	TaxAmount      decimal.Decimal
	TaxPercent     decimal.Decimal
	DiscountAmount decimal.Decimal // positive on items, as Commerce stores it
}

// Order is an order as the simulator holds it.
type Order struct {
	EntityID            int
	IncrementID         string
	QuoteID             int
	Store               string
	StoreID             int
	WebsiteID           int
	State               string
	Status              string
	CreatedAt           time.Time
	UpdatedAt           time.Time
	CustomerEmail       string
	CustomerFirstname   string
	CustomerLastname    string
	CustomerID          int // 0 for guests
	CustomerIsGuest     bool
	CustomerGroupID     int
	Currency            string
	Items               []OrderItem
	Subtotal            decimal.Decimal
	DiscountAmount      decimal.Decimal // negative, as REST shows it
	ShippingAmount      decimal.Decimal
	TaxAmount           decimal.Decimal
	GrandTotal          decimal.Decimal
	BillingAddress      Address
	ShippingAddress     *Address // nil for virtual-only orders
	ShippingMethod      string
	ShippingDescription string
	PaymentMethod       string
	RemoteIP            string

	Placed     bool      // false when a required webhook aborted checkout
	RolledBack bool      // phantom: the webhook fired, the order never committed
	VisibleAt  time.Time // commit time: REST shows the order from then on
	Delivery   *Delivery // outcome of the order-placed webhook (nil: no hook configured)
}

func (o *Order) visible(now time.Time) bool {
	return o.Placed && !o.RolledBack && !now.Before(o.VisibleAt)
}

func (o *Order) clone() Order {
	c := *o
	c.Items = append([]OrderItem(nil), o.Items...)
	if o.ShippingAddress != nil {
		a := *o.ShippingAddress
		c.ShippingAddress = &a
	}
	if o.Delivery != nil {
		d := *o.Delivery
		c.Delivery = &d
	}
	return c
}

func (o *Order) totalQty() decimal.Decimal {
	q := decimal.Zero
	for _, it := range o.Items {
		if it.ParentItemID == 0 {
			q = q.Add(it.QtyOrdered)
		}
	}
	return q
}

// Invoice is a sales invoice. State: 1 open, 2 paid, 3 canceled.
type Invoice struct {
	EntityID         int
	IncrementID      string
	OrderID          int
	OrderIncrementID string
	Store            string
	StoreID          int
	State            int
	Currency         string
	Subtotal         decimal.Decimal
	TaxAmount        decimal.Decimal
	DiscountAmount   decimal.Decimal // negative
	ShippingAmount   decimal.Decimal
	GrandTotal       decimal.Decimal
	TotalQty         decimal.Decimal
	TransactionID    string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Items            []InvoiceItem
	Delivery         *Delivery
}

// InvoiceItem is one invoice line.
type InvoiceItem struct {
	EntityID       int
	OrderItemID    int
	ParentID       int // invoice entity id
	SKU            string
	Name           string
	ProductID      int
	Qty            decimal.Decimal
	Price          decimal.Decimal
	RowTotal       decimal.Decimal
	TaxAmount      decimal.Decimal
	DiscountAmount decimal.Decimal
}

func (inv *Invoice) clone() Invoice {
	c := *inv
	c.Items = append([]InvoiceItem(nil), inv.Items...)
	if inv.Delivery != nil {
		d := *inv.Delivery
		c.Delivery = &d
	}
	return c
}

// Customer is a registered customer.
type Customer struct {
	ID        int
	Email     string
	Firstname string
	Lastname  string
	GroupID   int
	Store     string
	StoreID   int
	WebsiteID int
	CreatedIn string
	CreatedAt time.Time
	UpdatedAt time.Time
	Addresses []Address
	Delivery  *Delivery
}

func (c *Customer) clone() Customer {
	cc := *c
	cc.Addresses = append([]Address(nil), c.Addresses...)
	if c.Delivery != nil {
		d := *c.Delivery
		cc.Delivery = &d
	}
	return cc
}

// product is a catalogue entry as Commerce stores it.
type product struct {
	ID          int
	SKU         string
	Name        string
	Type        string // simple, configurable, bundle, virtual
	Price       decimal.Decimal
	StorePrices map[int]decimal.Decimal // store_id -> price at store-view scope
	Children    []string
	StockItemID int
	Qty         decimal.Decimal
	InStock     bool
	UpdatedAt   time.Time
}

// sourceItem is an MSI source item.
type sourceItem struct {
	SKU        string
	SourceCode string
	Quantity   decimal.Decimal
	Status     int
}

// seedCatalog loads the shared catalogue: configurable "MS09" with its
// children, the kit "24-WG088" as a fixed-price bundle, gift cards virtual.
func (s *Server) seedCatalog() {
	s.products = map[string]*product{}
	now := s.clock().UTC()
	for i, p := range catalog.Default() {
		typ := "simple"
		var children []string
		switch {
		case len(p.Children) > 0:
			typ, children = "configurable", p.Children
		case p.ItemType == "Kit":
			typ, children = "bundle", []string{"24-WG085", "24-WG080"}
		case p.ItemType == "NonInvtPart":
			typ = "virtual"
		}
		pr := &product{
			ID: i + 1, SKU: p.SKU, Name: p.Name, Type: typ, Price: decimal.NewFromFloat(p.Price).Round(2),
			StorePrices: map[int]decimal.Decimal{}, Children: children, StockItemID: i + 1,
			Qty: decimal.NewFromInt(int64(p.Stock)), InStock: p.Stock > 0 || typ != "simple", UpdatedAt: now,
		}
		s.products[p.SKU] = pr
		if typ == "simple" {
			s.sourceItems[p.SKU+"|default"] = &sourceItem{SKU: p.SKU, SourceCode: "default", Quantity: pr.Qty, Status: boolInt(pr.InStock)}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (p *product) priceFor(storeID int) decimal.Decimal {
	if v, ok := p.StorePrices[storeID]; ok {
		return v
	}
	return p.Price
}

// incrementID formats a per-store sequence number like Commerce's default
// sequence profile: store 1 "000000001", store N "N000000001".
func incrementID(storeID, n int) string {
	if storeID <= 1 {
		return fmt.Sprintf("%09d", n)
	}
	return fmt.Sprintf("%d%09d", storeID, n)
}
