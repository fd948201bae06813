package commercefact

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// The MODEL data of webhook bodies (ref §3) and the subscribed fields of
// I/O Events values (ref §6) share Commerce's model keys; I/O Events carry
// a subset. One decoder reads both and lists as missing what the bytes do
// not carry.

type orderModel struct {
	IncrementID         text                 `json:"increment_id"`
	EntityID            ident64              `json:"entity_id"`
	StoreID             ident64              `json:"store_id"`
	CreatedAt           when                 `json:"created_at"`
	UpdatedAt           when                 `json:"updated_at"`
	State               text                 `json:"state"`
	Status              text                 `json:"status"`
	CustomerID          ident64              `json:"customer_id"`
	CustomerIsGuest     flag                 `json:"customer_is_guest"`
	CustomerEmail       text                 `json:"customer_email"`
	CustomerFirstname   text                 `json:"customer_firstname"`
	CustomerLastname    text                 `json:"customer_lastname"`
	CustomerGroupID     ident64              `json:"customer_group_id"`
	Currency            text                 `json:"order_currency_code"`
	Subtotal            amount               `json:"subtotal"`
	DiscountAmount      amount               `json:"discount_amount"`
	TaxAmount           amount               `json:"tax_amount"`
	ShippingAmount      amount               `json:"shipping_amount"`
	GrandTotal          amount               `json:"grand_total"`
	ShippingMethod      text                 `json:"shipping_method"`
	ShippingDescription text                 `json:"shipping_description"`
	CouponCode          text                 `json:"coupon_code"`
	DiscountDescription text                 `json:"discount_description"`
	Items               list[lineModel]      `json:"items"`
	Addresses           list[addressModel]   `json:"addresses"`
	Payment             object[paymentModel] `json:"payment"`
}

type lineModel struct {
	ItemID         ident64 `json:"item_id"`
	ParentItemID   ident64 `json:"parent_item_id"`
	SKU            text    `json:"sku"`
	Name           text    `json:"name"`
	ProductType    text    `json:"product_type"`
	Qty            amount  `json:"qty_ordered"`
	Price          amount  `json:"price"`
	OriginalPrice  amount  `json:"original_price"`
	RowTotal       amount  `json:"row_total"`
	DiscountAmount amount  `json:"discount_amount"`
	TaxAmount      amount  `json:"tax_amount"`
	TaxPercent     amount  `json:"tax_percent"`
}

type addressModel struct {
	ID              ident64 `json:"id"`
	EntityID        ident64 `json:"entity_id"`
	AddressType     text    `json:"address_type"`
	Firstname       text    `json:"firstname"`
	Lastname        text    `json:"lastname"`
	Company         text    `json:"company"`
	Street          street  `json:"street"`
	City            text    `json:"city"`
	Region          region  `json:"region"`
	RegionCode      text    `json:"region_code"`
	RegionID        ident64 `json:"region_id"`
	Postcode        text    `json:"postcode"`
	CountryID       text    `json:"country_id"`
	Telephone       text    `json:"telephone"`
	Email           text    `json:"email"`
	DefaultBilling  flag    `json:"default_billing"`
	DefaultShipping flag    `json:"default_shipping"`
}

type paymentModel struct {
	Method text `json:"method"`
	// AdditionalInformation is {"method_title": ...} on the model.
	AdditionalInformation json.RawMessage `json:"additional_information"`
}

type invoiceModel struct {
	IncrementID      text    `json:"increment_id"`
	EntityID         ident64 `json:"entity_id"`
	OrderID          ident64 `json:"order_id"`
	OrderIncrementID text    `json:"order_increment_id"`
	Order            object[struct {
		IncrementID text `json:"increment_id"`
	}] `json:"order"`
	StoreID        ident64                `json:"store_id"`
	State          ident64                `json:"state"`
	CreatedAt      when                   `json:"created_at"`
	UpdatedAt      when                   `json:"updated_at"`
	Currency       text                   `json:"order_currency_code"`
	Subtotal       amount                 `json:"subtotal"`
	DiscountAmount amount                 `json:"discount_amount"`
	TaxAmount      amount                 `json:"tax_amount"`
	ShippingAmount amount                 `json:"shipping_amount"`
	GrandTotal     amount                 `json:"grand_total"`
	Items          list[invoiceLineModel] `json:"items"`
}

type invoiceLineModel struct {
	OrderItemID    ident64 `json:"order_item_id"`
	SKU            text    `json:"sku"`
	Qty            amount  `json:"qty"`
	Price          amount  `json:"price"`
	RowTotal       amount  `json:"row_total"`
	TaxAmount      amount  `json:"tax_amount"`
	DiscountAmount amount  `json:"discount_amount"`
}

type customerModel struct {
	ID              ident64            `json:"id"`
	EntityID        ident64            `json:"entity_id"`
	Email           text               `json:"email"`
	Firstname       text               `json:"firstname"`
	Lastname        text               `json:"lastname"`
	GroupID         ident64            `json:"group_id"`
	WebsiteID       ident64            `json:"website_id"`
	StoreID         ident64            `json:"store_id"`
	CreatedAt       when               `json:"created_at"`
	UpdatedAt       when               `json:"updated_at"`
	Addresses       list[addressModel] `json:"addresses"`
	DefaultBilling  ident64            `json:"default_billing"`
	DefaultShipping ident64            `json:"default_shipping"`
}

// maxIncrementID bounds business keys: Commerce's increment_id column is
// varchar(50); a longer one is not Commerce's.
const maxIncrementID = 64

// decodeModel decodes a record object (PHP's [] is an empty one) into v.
func decodeModel(raw []byte, what string, v any) error {
	b := trimmed(raw)
	if empty(b) {
		return nil
	}
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("%w: %s is not an object", ErrMalformed, what)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return nil
}

func incrementID(t text, what string) (string, error) {
	id := t.ident()
	switch {
	case id == "":
		return "", fmt.Errorf("%w: %s.increment_id missing", ErrMalformed, what)
	case len(id) > maxIncrementID:
		return "", fmt.Errorf("%w: %s.increment_id is %d bytes, over %d", ErrMalformed, what, len(id), maxIncrementID)
	}
	return id, nil
}

// missing collects parts a shape does not carry.
type missing []Part

func (m *missing) need(p Part, carried bool) {
	if !carried {
		*m = append(*m, p)
	}
}

// guestOf applies one rule to every shape: a buyer without a customer id
// is a guest, whatever customer_is_guest says.
func guestOf(isGuest bool, id int64) (bool, int64) {
	if isGuest || id <= 0 {
		return true, 0
	}
	return false, id
}

// orderFromModel reads order model data (webhook data.order, I/O Events
// data.value).
func orderFromModel(raw []byte, what, store string) (Fact, error) {
	var m orderModel
	if err := decodeModel(raw, what, &m); err != nil {
		return Fact{}, err
	}
	inc, err := incrementID(m.IncrementID, what)
	if err != nil {
		return Fact{}, err
	}
	guest, custID := guestOf(m.CustomerIsGuest.v, m.CustomerID.v)
	o := &Order{
		IncrementID: inc, EntityID: m.EntityID.v, StoreID: m.StoreID.v,
		CreatedAt: m.CreatedAt.v, UpdatedAt: m.UpdatedAt.v,
		State: m.State.ident(), Status: m.Status.ident(), Currency: m.Currency.ident(),
		Customer: Buyer{ID: custID, Guest: guest, Email: m.CustomerEmail.ident(), Firstname: m.CustomerFirstname.v,
			Lastname: m.CustomerLastname.v, GroupID: m.CustomerGroupID.v},
		Shipping: Shipping{Method: m.ShippingMethod.ident(), Description: m.ShippingDescription.v},
		Totals: Totals{Subtotal: m.Subtotal.v, Discount: m.DiscountAmount.v, Tax: m.TaxAmount.v,
			Shipping: m.ShippingAmount.v, GrandTotal: m.GrandTotal.v},
		CouponCode: m.CouponCode.ident(), DiscountDescription: m.DiscountDescription.v,
	}
	var miss missing
	miss.need(PartEntityID, m.EntityID.v > 0)
	miss.need(PartStoreID, m.StoreID.set)
	miss.need(PartTimestamps, m.CreatedAt.known() && m.UpdatedAt.known())
	miss.need(PartState, m.State.set && m.Status.set)
	miss.need(PartCurrency, m.Currency.set)
	miss.need(PartCustomer, m.CustomerEmail.set && (m.CustomerIsGuest.set || m.CustomerID.set))
	miss.need(PartCustomerName, m.CustomerFirstname.set && m.CustomerLastname.set)
	miss.need(PartCustomerGroup, m.CustomerGroupID.set)
	miss.need(PartTotals, m.Subtotal.set && m.DiscountAmount.set && m.TaxAmount.set && m.ShippingAmount.set && m.GrandTotal.set)
	miss.need(PartShipping, m.ShippingMethod.set && m.ShippingDescription.set)
	miss.need(PartCoupon, m.CouponCode.set && m.DiscountDescription.set)

	linesOK, ids, parents, amounts := m.Items.set, true, true, true
	for _, l := range m.Items.v {
		linesOK = linesOK && l.SKU.set && l.Name.set && l.ProductType.set && l.Qty.set && l.Price.set && l.RowTotal.set
		ids = ids && l.ItemID.v > 0
		parents = parents && l.ParentItemID.set
		amounts = amounts && l.OriginalPrice.set && l.DiscountAmount.set && l.TaxAmount.set && l.TaxPercent.set
		o.Lines = append(o.Lines, Line{
			ItemID: l.ItemID.v, ParentItemID: l.ParentItemID.v, SKU: l.SKU.v, Name: l.Name.v, ProductType: l.ProductType.ident(),
			Qty: l.Qty.v, Price: l.Price.v, OriginalPrice: l.OriginalPrice.v, RowTotal: l.RowTotal.v,
			DiscountAmount: l.DiscountAmount.v, TaxAmount: l.TaxAmount.v, TaxPercent: l.TaxPercent.v,
		})
	}
	if linesOK {
		miss.need(PartLineIDs, ids)
		miss.need(PartLineParents, ids && parents)
		miss.need(PartLineAmounts, amounts)
	} else {
		miss = append(miss, PartLines)
	}

	if m.Addresses.set {
		codes := true
		for _, am := range m.Addresses.v {
			a, code := addressFromModel(am, false)
			switch am.AddressType.ident() {
			case "billing":
				if o.BillingAddress == nil {
					o.BillingAddress, codes = &a, codes && code
				}
			case "shipping":
				if o.ShippingAddress == nil {
					o.ShippingAddress, codes = &a, codes && code
				}
			}
		}
		miss.need(PartRegionCode, codes)
		// Every order has a billing address; one that ships has a
		// shipping address. A list without them is not the whole list.
		miss.need(PartBillingAddress, o.BillingAddress != nil)
		miss.need(PartShippingAddress, o.ShippingAddress != nil || (m.ShippingMethod.set && o.Shipping.Method == ""))
	} else {
		miss = append(miss, PartBillingAddress, PartShippingAddress)
	}

	if m.Payment.set {
		o.Payment.Method = m.Payment.v.Method.ident()
		title, ok := modelPaymentTitle(m.Payment.v.AdditionalInformation)
		o.Payment.Title = title
		miss.need(PartPaymentTitle, ok)
	} else {
		miss = append(miss, PartPayment, PartPaymentTitle)
	}

	f := Fact{Kind: event.OrderPlaced, Store: store, Order: o}
	finish(&f, miss)
	return f, nil
}

// addressFromModel converts an address model; code reports that its
// region code is known.
func addressFromModel(m addressModel, customer bool) (Address, bool) {
	a := Address{
		Firstname: m.Firstname.v, Lastname: m.Lastname.v, Company: m.Company.v, Street: m.Street.v, City: m.City.v,
		Region: m.Region.name, RegionCode: m.Region.code, RegionID: m.RegionID.v,
		Postcode: m.Postcode.v, CountryID: m.CountryID.ident(), Telephone: m.Telephone.v, Email: m.Email.ident(),
	}
	if m.RegionCode.set {
		a.RegionCode = m.RegionCode.v
	}
	if a.RegionID == 0 {
		a.RegionID = m.Region.id
	}
	if customer {
		a.ID = m.ID.v
		if a.ID == 0 {
			a.ID = m.EntityID.v
		}
		a.Email = "" // address book entries have no e-mail in Commerce
	}
	return a, m.RegionCode.set || m.Region.codeSet
}

// modelPaymentTitle reads additional_information.method_title of the
// payment model.
func modelPaymentTitle(raw json.RawMessage) (string, bool) {
	var info object[struct {
		MethodTitle text `json:"method_title"`
	}]
	if len(raw) == 0 || json.Unmarshal(raw, &info) != nil || !info.v.MethodTitle.set {
		return "", false
	}
	return info.v.MethodTitle.v, true
}

// invoiceFromModel reads invoice model data.
func invoiceFromModel(raw []byte, what, store string) (Fact, error) {
	var m invoiceModel
	if err := decodeModel(raw, what, &m); err != nil {
		return Fact{}, err
	}
	inc, err := incrementID(m.IncrementID, what)
	if err != nil {
		return Fact{}, err
	}
	if m.State.v > 1000 {
		return Fact{}, fmt.Errorf("%w: %s.state %d is out of range", ErrMalformed, what, m.State.v)
	}
	orderInc := m.OrderIncrementID.ident()
	orderIncSet := m.OrderIncrementID.set && orderInc != ""
	if !orderIncSet && m.Order.v.IncrementID.ident() != "" {
		orderInc, orderIncSet = m.Order.v.IncrementID.ident(), true
	}
	if len(orderInc) > maxIncrementID {
		return Fact{}, fmt.Errorf("%w: %s.order_increment_id is %d bytes, over %d", ErrMalformed, what, len(orderInc), maxIncrementID)
	}
	inv := &Invoice{
		IncrementID: inc, EntityID: m.EntityID.v, OrderID: m.OrderID.v, OrderIncrementID: orderInc, StoreID: m.StoreID.v,
		State: int(m.State.v), CreatedAt: m.CreatedAt.v, UpdatedAt: m.UpdatedAt.v, Currency: m.Currency.ident(),
		Totals: Totals{Subtotal: m.Subtotal.v, Discount: m.DiscountAmount.v, Tax: m.TaxAmount.v,
			Shipping: m.ShippingAmount.v, GrandTotal: m.GrandTotal.v},
	}
	var miss missing
	miss.need(PartEntityID, m.EntityID.v > 0)
	miss.need(PartStoreID, m.StoreID.set)
	miss.need(PartTimestamps, m.CreatedAt.known() && m.UpdatedAt.known())
	miss.need(PartState, m.State.set)
	miss.need(PartCurrency, m.Currency.set)
	miss.need(PartOrderID, m.OrderID.v > 0)
	miss.need(PartOrderIncrementID, orderIncSet)
	miss.need(PartTotals, m.Subtotal.set && m.DiscountAmount.set && m.TaxAmount.set && m.ShippingAmount.set && m.GrandTotal.set)
	linesOK, amounts := m.Items.set, true
	for _, l := range m.Items.v {
		linesOK = linesOK && l.OrderItemID.set && l.SKU.set && l.Qty.set && l.Price.set && l.RowTotal.set
		amounts = amounts && l.TaxAmount.set && l.DiscountAmount.set
		inv.Lines = append(inv.Lines, InvoiceLine{OrderItemID: l.OrderItemID.v, SKU: l.SKU.v, Qty: l.Qty.v, Price: l.Price.v,
			RowTotal: l.RowTotal.v, TaxAmount: l.TaxAmount.v, DiscountAmount: l.DiscountAmount.v})
	}
	if linesOK {
		miss.need(PartLineAmounts, amounts)
	} else {
		miss = append(miss, PartLines)
	}
	f := Fact{Kind: event.InvoiceCaptured, Store: store, Invoice: inv}
	finish(&f, miss)
	return f, nil
}

// customerFromModel reads customer model data (webhook data.customer, I/O
// Events data.value).
func customerFromModel(raw []byte, what, store string) (Fact, error) {
	var m customerModel
	if err := decodeModel(raw, what, &m); err != nil {
		return Fact{}, err
	}
	id := m.ID.v
	if id == 0 {
		id = m.EntityID.v
	}
	email := m.Email.ident()
	if id == 0 && email == "" {
		return Fact{}, fmt.Errorf("%w: %s has neither id nor email", ErrMalformed, what)
	}
	c := &Customer{
		ID: id, Email: email, Firstname: m.Firstname.v, Lastname: m.Lastname.v, GroupID: m.GroupID.v,
		WebsiteID: m.WebsiteID.v, StoreID: m.StoreID.v, CreatedAt: m.CreatedAt.v, UpdatedAt: m.UpdatedAt.v,
		DefaultBillingID: m.DefaultBilling.v, DefaultShippingID: m.DefaultShipping.v,
	}
	var miss missing
	miss.need(PartEntityID, id > 0)
	miss.need(PartStoreID, m.StoreID.set && m.WebsiteID.set)
	miss.need(PartTimestamps, m.CreatedAt.known() && m.UpdatedAt.known())
	miss.need(PartCustomer, m.Email.set)
	miss.need(PartCustomerName, m.Firstname.set && m.Lastname.set)
	miss.need(PartCustomerGroup, m.GroupID.set)
	if m.Addresses.set {
		codes, flags := true, false
		for _, am := range m.Addresses.v {
			a, code := addressFromModel(am, true)
			codes = codes && code
			flags = flags || am.DefaultBilling.set || am.DefaultShipping.set
			if !m.DefaultBilling.set && am.DefaultBilling.v && c.DefaultBillingID == 0 {
				c.DefaultBillingID = a.ID
			}
			if !m.DefaultShipping.set && am.DefaultShipping.v && c.DefaultShippingID == 0 {
				c.DefaultShippingID = a.ID
			}
			c.Addresses = append(c.Addresses, a)
		}
		if len(c.Addresses) > 0 {
			miss.need(PartRegionCode, codes)
			miss.need(PartAddressDefaults, (m.DefaultBilling.set && m.DefaultShipping.set) || flags)
		}
	} else {
		miss = append(miss, PartAddresses)
	}
	f := Fact{Kind: event.CustomerCreated, Store: store, Customer: c}
	finish(&f, miss)
	return f, nil
}

// ioKind maps an I/O Events event name to the fact kind it carries, the way
// ingest routes them.
func ioKind(name string) string {
	switch {
	case strings.Contains(name, "sales_order_place") || strings.Contains(name, "order_management.place"):
		return event.OrderPlaced
	case strings.Contains(name, "invoice"):
		return event.InvoiceCaptured
	case strings.Contains(name, "customer"):
		return event.CustomerCreated
	}
	return ""
}
