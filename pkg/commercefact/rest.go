package commercefact

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/event"
)

// REST records (ref §7, §9) are complete by definition: a field the record
// leaves out is empty, not unknown. The one exception is an invoice's order
// increment id, which REST invoices do not have.

// amounts checks REST decimals (which commerce decodes as they come) the
// way the model reader checks its own, and normalises them.
type amounts struct {
	what string
	err  error
}

func (a *amounts) of(d decimal.Decimal, field string) decimal.Decimal {
	c, err := canon(d)
	if err != nil && a.err == nil {
		a.err = fmt.Errorf("%w: %s.%s: %v", ErrMalformed, a.what, field, err)
	}
	return c
}

func restIncrementID(s, what string) (string, error) {
	return incrementID(text{v: s, set: true}, what)
}

// OrderFact is the fact of a REST order of store (GET V1/orders).
func OrderFact(store string, ro commerce.Order) (Fact, error) {
	const what = "REST order"
	inc, err := restIncrementID(ro.IncrementID, what)
	if err != nil {
		return Fact{}, err
	}
	am := amounts{what: what + " " + inc}
	guest, custID := guestOf(bool(ro.CustomerIsGuest), int64(ro.CustomerID))
	o := &Order{
		IncrementID: inc, EntityID: int64(ro.EntityID), StoreID: int64(ro.StoreID),
		CreatedAt: ro.CreatedAt.Time, UpdatedAt: ro.UpdatedAt.Time,
		State: strings.TrimSpace(ro.State), Status: strings.TrimSpace(ro.Status), Currency: strings.TrimSpace(ro.OrderCurrencyCode),
		Customer: Buyer{ID: custID, Guest: guest, Email: strings.TrimSpace(ro.CustomerEmail), Firstname: ro.CustomerFirstname,
			Lastname: ro.CustomerLastname, GroupID: int64(ro.CustomerGroupID)},
		Shipping: Shipping{Method: strings.TrimSpace(ro.ShippingMethod()), Description: ro.ShippingDescription},
		Totals: Totals{Subtotal: am.of(ro.Subtotal, "subtotal"), Discount: am.of(ro.DiscountAmount, "discount_amount"),
			Tax: am.of(ro.TaxAmount, "tax_amount"), Shipping: am.of(ro.ShippingAmount, "shipping_amount"),
			GrandTotal: am.of(ro.GrandTotal, "grand_total")},
		CouponCode: strings.TrimSpace(ro.CouponCode), DiscountDescription: ro.DiscountDescription,
	}
	for i, it := range ro.Items {
		p := fmt.Sprintf("items[%d].", i)
		o.Lines = append(o.Lines, Line{
			ItemID: int64(it.ItemID), ParentItemID: int64(it.ParentItemID), SKU: it.SKU, Name: it.Name,
			ProductType: strings.TrimSpace(it.ProductType), Qty: am.of(it.QtyOrdered, p+"qty_ordered"),
			Price: am.of(it.Price, p+"price"), OriginalPrice: am.of(it.OriginalPrice, p+"original_price"),
			RowTotal: am.of(it.RowTotal, p+"row_total"), DiscountAmount: am.of(it.DiscountAmount, p+"discount_amount"),
			TaxAmount: am.of(it.TaxAmount, p+"tax_amount"), TaxPercent: am.of(it.TaxPercent, p+"tax_percent"),
		})
	}
	if am.err != nil {
		return Fact{}, am.err
	}
	o.BillingAddress = restAddress(ro.BillingAddress)
	o.ShippingAddress = restAddress(ro.ShippingAddress())
	if ro.Payment != nil {
		o.Payment = Payment{Method: strings.TrimSpace(ro.Payment.Method),
			Title: restPaymentTitle(ro.ExtensionAttributes.PaymentAdditionalInfo, ro.Payment.AdditionalInformation)}
	}
	var miss missing
	miss.need(PartEntityID, o.EntityID > 0)
	miss.need(PartTimestamps, !o.CreatedAt.IsZero() && !o.UpdatedAt.IsZero())
	f := Fact{Kind: event.OrderPlaced, Store: store, Order: o, Source: Source{Shape: ShapeREST}}
	finish(&f, miss)
	return f, nil
}

func restAddress(a *commerce.Address) *Address {
	if a == nil {
		return nil
	}
	return &Address{
		Firstname: a.Firstname, Lastname: a.Lastname, Company: a.Company, Street: nonEmpty(a.Street), City: a.City,
		Region: a.Region, RegionCode: a.RegionCode, RegionID: int64(a.RegionID), Postcode: a.Postcode,
		CountryID: strings.TrimSpace(a.CountryID), Telephone: a.Telephone, Email: strings.TrimSpace(a.Email),
	}
}

// nonEmpty makes an empty street nil, as the model reader does.
func nonEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// restPaymentTitle is method_title from extension_attributes
// .payment_additional_info, else the first additional_information entry
// (where offline methods keep their title).
func restPaymentTitle(info, additional json.RawMessage) string {
	var kvs list[struct {
		Key   text `json:"key"`
		Value text `json:"value"`
	}]
	if len(info) > 0 && json.Unmarshal(info, &kvs) == nil {
		for _, kv := range kvs.v {
			if kv.Key.v == "method_title" {
				return kv.Value.v
			}
		}
	}
	var first []json.RawMessage
	if len(additional) > 0 && json.Unmarshal(additional, &first) == nil && len(first) > 0 {
		var t text
		if t.UnmarshalJSON(first[0]) == nil {
			return t.v
		}
	}
	return ""
}

// InvoiceFact is the fact of a REST invoice of store (GET V1/invoices).
// REST invoices do not say their order's increment id: the fact lists
// PartOrderIncrementID as missing unless orderIncrementID is given.
func InvoiceFact(store string, ri commerce.Invoice, orderIncrementID string) (Fact, error) {
	const what = "REST invoice"
	inc, err := restIncrementID(ri.IncrementID, what)
	if err != nil {
		return Fact{}, err
	}
	orderInc := strings.TrimSpace(orderIncrementID)
	if len(orderInc) > maxIncrementID {
		return Fact{}, fmt.Errorf("%w: %s %s: order increment id is %d bytes, over %d", ErrMalformed, what, inc, len(orderInc), maxIncrementID)
	}
	if ri.State < 0 || ri.State > 1000 {
		return Fact{}, fmt.Errorf("%w: %s %s: state %d is out of range", ErrMalformed, what, inc, ri.State)
	}
	am := amounts{what: what + " " + inc}
	inv := &Invoice{
		IncrementID: inc, EntityID: int64(ri.EntityID), OrderID: int64(ri.OrderID), OrderIncrementID: orderInc,
		StoreID: int64(ri.StoreID), State: int(ri.State), CreatedAt: ri.CreatedAt.Time, UpdatedAt: ri.UpdatedAt.Time,
		Currency: strings.TrimSpace(ri.OrderCurrencyCode),
		Totals: Totals{Subtotal: am.of(ri.Subtotal, "subtotal"), Discount: am.of(ri.DiscountAmount, "discount_amount"),
			Tax: am.of(ri.TaxAmount, "tax_amount"), Shipping: am.of(ri.ShippingAmount, "shipping_amount"),
			GrandTotal: am.of(ri.GrandTotal, "grand_total")},
	}
	for i, it := range ri.Items {
		p := fmt.Sprintf("items[%d].", i)
		inv.Lines = append(inv.Lines, InvoiceLine{OrderItemID: int64(it.OrderItemID), SKU: it.SKU,
			Qty: am.of(it.Qty, p+"qty"), Price: am.of(it.Price, p+"price"), RowTotal: am.of(it.RowTotal, p+"row_total"),
			TaxAmount: am.of(it.TaxAmount, p+"tax_amount"), DiscountAmount: am.of(it.DiscountAmount, p+"discount_amount")})
	}
	if am.err != nil {
		return Fact{}, am.err
	}
	var miss missing
	miss.need(PartEntityID, inv.EntityID > 0)
	miss.need(PartTimestamps, !inv.CreatedAt.IsZero() && !inv.UpdatedAt.IsZero())
	miss.need(PartOrderID, inv.OrderID > 0)
	miss.need(PartOrderIncrementID, orderInc != "")
	f := Fact{Kind: event.InvoiceCaptured, Store: store, Invoice: inv, Source: Source{Shape: ShapeREST}}
	finish(&f, miss)
	return f, nil
}

// CustomerFact is the fact of a REST customer of store (GET V1/customers).
func CustomerFact(store string, rc commerce.Customer) (Fact, error) {
	c := &Customer{
		ID: int64(rc.ID), Email: strings.TrimSpace(rc.Email), Firstname: rc.Firstname, Lastname: rc.Lastname,
		GroupID: int64(rc.GroupID), WebsiteID: int64(rc.WebsiteID), StoreID: int64(rc.StoreID),
		CreatedAt: rc.CreatedAt.Time, UpdatedAt: rc.UpdatedAt.Time,
		DefaultBillingID: int64(rc.DefaultBilling), DefaultShippingID: int64(rc.DefaultShipping),
	}
	if c.ID <= 0 && c.Email == "" {
		return Fact{}, fmt.Errorf("%w: REST customer has neither id nor email", ErrMalformed)
	}
	for _, a := range rc.Addresses {
		regionID := int64(a.RegionID)
		if regionID == 0 {
			regionID = int64(a.Region.RegionID)
		}
		c.Addresses = append(c.Addresses, Address{
			ID: int64(a.ID), Firstname: a.Firstname, Lastname: a.Lastname, Company: a.Company, Street: nonEmpty(a.Street),
			City: a.City, Region: a.Region.Region, RegionCode: a.Region.RegionCode, RegionID: regionID, Postcode: a.Postcode,
			CountryID: strings.TrimSpace(a.CountryID), Telephone: a.Telephone,
		})
		if c.DefaultBillingID == 0 && bool(a.DefaultBilling) {
			c.DefaultBillingID = int64(a.ID)
		}
		if c.DefaultShippingID == 0 && bool(a.DefaultShipping) {
			c.DefaultShippingID = int64(a.ID)
		}
	}
	var miss missing
	miss.need(PartEntityID, c.ID > 0)
	miss.need(PartTimestamps, !c.CreatedAt.IsZero() && !c.UpdatedAt.IsZero())
	f := Fact{Kind: event.CustomerCreated, Store: store, Customer: c, Source: Source{Shape: ShapeREST}}
	finish(&f, miss)
	return f, nil
}
