package commercesim

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/shopspring/decimal"
)

// BuyerKind chooses who places an order.
type BuyerKind string

const (
	BuyerRandom   BuyerKind = ""         // guest or customer, at random
	BuyerGuest    BuyerKind = "guest"    // no customer account
	BuyerCustomer BuyerKind = "customer" // a registered customer (CustomerID, or an existing/new one)
)

// LineSpec fixes one order line. A configurable SKU ("MS09") gets Child (or
// a random child); a child SKU of a configurable is sold through its parent.
type LineSpec struct {
	SKU   string
	Qty   int
	Child string
}

// OrderSpec fixes parts of an order; its zero value means a random
// realistic order.
type OrderSpec struct {
	Lines          []LineSpec
	Buyer          BuyerKind
	CustomerID     int
	Email          string
	Firstname      string
	Lastname       string
	Discount       decimal.Decimal // amount off the subtotal (positive); zero = none (random orders may get one)
	NoDiscount     bool            // random orders: never a discount
	Address        *Address        // billing = shipping address
	PaymentMethod  string          // default "checkmo"
	ShippingMethod string          // default "flatrate_flatrate" ($5 per item)
}

func firstNames() []string {
	return []string{"Zoë", "Ann", "José", "Łucja", "Ümit", "Siobhán", "Mark", "Chloé", "Björn", "Wei"}
}
func lastNames() []string {
	return []string{"Kowalski", "Müller", "O'Brien", "Smith", "Núñez", "Dvořák", "Jones", "García", "Øster", "Lee"}
}

type place struct {
	City, Region, RegionCode, Postcode, Country string
	RegionID                                    int
}

func usPlaces() []place {
	return []place{{"Austin", "Texas", "TX", "78701", "US", 57}, {"Portland", "Oregon", "OR", "97201", "US", 49}, {"Brooklyn", "New York", "NY", "11201", "US", 43}}
}
func ukPlaces() []place {
	return []place{{"Łódź Lane, London", "London", "", "SW1A 1AA", "GB", 0}, {"Manchester", "Greater Manchester", "", "M1 1AE", "GB", 0}}
}

// randomAddress must be called with s.mu held.
func (s *Server) randomAddressLocked(st Store, first, last, email string) Address {
	places := usPlaces()
	if st.Currency == "GBP" {
		places = ukPlaces()
	}
	p := places[s.rng.IntN(len(places))]
	a := Address{
		Firstname: first, Lastname: last, Street: []string{fmt.Sprintf("%d Main St", 1+s.rng.IntN(999))},
		City: p.City, Region: p.Region, RegionCode: p.RegionCode, RegionID: p.RegionID, Postcode: p.Postcode,
		CountryID: p.Country, Telephone: fmt.Sprintf("555-%04d", s.rng.IntN(10000)), Email: email,
	}
	if s.rng.IntN(4) == 0 {
		a.Street = append(a.Street, "Apt 4/B")
	}
	if s.rng.IntN(5) == 0 {
		a.Company = "Café Łódź 🚲 Ltd"
	}
	return a
}

func (s *Server) taxRate(st Store) decimal.Decimal {
	if st.Currency == "GBP" {
		return decimal.RequireFromString("0.20")
	}
	return decimal.RequireFromString("0.0825")
}

func sellable() []string {
	return []string{"MS09", "MS09", "WB04", "24-MB01", "24-WG085", "24-WG080", "24-UG06", "GC-50", "24-WG088"}
}

// PlaceOrder places an order in store: it builds the order, fires
// observer.sales_order_place_after synchronously (before the commit), and
// commits it (visible through REST after Config.CommitDelay) unless a
// required hook failed, in which case it returns ErrCheckoutAborted.
func (s *Server) PlaceOrder(ctx context.Context, store string, spec OrderSpec) (Order, error) {
	st, ok := s.storeByCode(store)
	if !ok {
		if store != "" {
			return Order{}, fmt.Errorf("place order: store %q: %w", store, ErrNotFound)
		}
		st = s.stores[0]
	}
	// A customer order needs an account: pick one of the website or sign one up.
	if spec.Buyer == BuyerRandom && spec.CustomerID == 0 {
		s.mu.Lock()
		if s.rng.IntN(2) == 0 {
			spec.Buyer = BuyerGuest
		} else {
			spec.Buyer = BuyerCustomer
		}
		s.mu.Unlock()
	}
	if spec.CustomerID != 0 {
		spec.Buyer = BuyerCustomer
	}
	var cust *Customer
	if spec.Buyer == BuyerCustomer {
		s.mu.Lock()
		if spec.CustomerID != 0 {
			for _, c := range s.customers {
				if c.ID == spec.CustomerID {
					cust = c
				}
			}
			if cust == nil {
				s.mu.Unlock()
				return Order{}, fmt.Errorf("place order: customer %d: %w", spec.CustomerID, ErrNotFound)
			}
		} else if spec.Email != "" {
			for _, c := range s.customers {
				if c.WebsiteID == st.WebsiteID && strings.EqualFold(c.Email, spec.Email) {
					cust = c // a returning customer
				}
			}
		} else {
			var cands []*Customer
			for _, c := range s.customers {
				if c.WebsiteID == st.WebsiteID {
					cands = append(cands, c)
				}
			}
			if len(cands) > 0 && s.rng.IntN(3) != 0 {
				cust = cands[s.rng.IntN(len(cands))]
			}
		}
		s.mu.Unlock()
		if cust == nil {
			c, err := s.RegisterCustomer(ctx, st.Code, CustomerSpec{Email: spec.Email, Firstname: spec.Firstname, Lastname: spec.Lastname})
			if err != nil {
				return Order{}, fmt.Errorf("place order: sign up buyer: %w", err)
			}
			s.mu.Lock()
			for _, cc := range s.customers {
				if cc.ID == c.ID {
					cust = cc
				}
			}
			s.mu.Unlock()
		}
	}

	s.mu.Lock()
	o, err := s.buildOrderLocked(st, spec, cust)
	if err != nil {
		s.mu.Unlock()
		return Order{}, err
	}
	s.orders = append(s.orders, o)
	s.ordersByEntity[o.EntityID] = o
	s.ordersByIncr[o.IncrementID] = o
	s.ordersByFold[foldASCII(o.IncrementID)] = append(s.ordersByFold[foldASCII(o.IncrementID)], o)
	body := Object{{"eventName", "sales_order_place_after"}, {"data", Object{{"order", s.orderModelLocked(o)}}}}
	s.mu.Unlock()

	d, aborted := s.fire(ctx, "sales_order_place_after", "/order-placed", st.Code, o.IncrementID, body)

	s.mu.Lock()
	if d != nil {
		o.Delivery = d
	}
	if aborted {
		out := o.clone()
		s.mu.Unlock()
		return out, fmt.Errorf("place order %s: %w", o.IncrementID, ErrCheckoutAborted)
	}
	o.Placed = true
	o.VisibleAt = s.nowLocked().Add(s.cfg.CommitDelay)
	out := o.clone()
	value := s.orderIOValueLocked(o)
	s.mu.Unlock()
	// I/O Events only learn of committed orders: the queued event rolls back
	// with an aborted checkout.
	s.emitIOEvent("sales_order_place_after", st, o.IncrementID, value)
	return out, nil
}

func (s *Server) buildOrderLocked(st Store, spec OrderSpec, cust *Customer) (*Order, error) {
	now := s.nowLocked()
	lines := spec.Lines
	if len(lines) == 0 {
		n := 1 + s.rng.IntN(3)
		for range n {
			lines = append(lines, LineSpec{SKU: sellable()[s.rng.IntN(len(sellable()))], Qty: 1 + s.rng.IntN(2)})
		}
	}
	s.nextOrderEntity++
	s.orderSeq[st.ID]++
	o := &Order{
		EntityID: s.nextOrderEntity, IncrementID: incrementID(st.ID, s.orderSeq[st.ID]), QuoteID: 1000 + s.nextOrderEntity,
		Store: st.Code, StoreID: st.ID, WebsiteID: st.WebsiteID, State: "new", Status: "pending",
		CreatedAt: now, UpdatedAt: now, Currency: st.Currency, PaymentMethod: spec.PaymentMethod,
		RemoteIP: fmt.Sprintf("203.0.113.%d", 1+s.rng.IntN(254)),
	}
	if o.PaymentMethod == "" {
		o.PaymentMethod = "checkmo"
	}
	if cust != nil {
		o.CustomerID, o.CustomerEmail, o.CustomerFirstname, o.CustomerLastname = cust.ID, cust.Email, cust.Firstname, cust.Lastname
		o.CustomerGroupID = cust.GroupID
	} else {
		o.CustomerIsGuest = true
		o.CustomerFirstname, o.CustomerLastname = spec.Firstname, spec.Lastname
		if o.CustomerFirstname == "" {
			o.CustomerFirstname = firstNames()[s.rng.IntN(len(firstNames()))]
		}
		if o.CustomerLastname == "" {
			o.CustomerLastname = lastNames()[s.rng.IntN(len(lastNames()))]
		}
		o.CustomerEmail = spec.Email
		if o.CustomerEmail == "" {
			o.CustomerEmail = fmt.Sprintf("guest%d.%s@example.com", o.EntityID, s.randHexLocked(4))
		}
	}
	if spec.Address != nil {
		o.BillingAddress = *spec.Address
	} else if cust != nil && len(cust.Addresses) > 0 {
		o.BillingAddress = cust.Addresses[0]
	} else {
		o.BillingAddress = s.randomAddressLocked(st, o.CustomerFirstname, o.CustomerLastname, o.CustomerEmail)
	}
	if o.BillingAddress.Email == "" {
		o.BillingAddress.Email = o.CustomerEmail
	}

	rate := s.taxRate(st)
	var parents []int
	physical := decimal.Zero
	for _, ls := range lines {
		p := s.products[ls.SKU]
		if p == nil {
			return nil, fmt.Errorf("place order: sku %q: %w", ls.SKU, ErrNotFound)
		}
		qty := decimal.NewFromInt(int64(max(ls.Qty, 1)))
		// A simple child of a configurable is sold through the parent.
		child := ls.Child
		if p.Type == "simple" {
			for _, cand := range s.products {
				if cand.Type == "configurable" && contains(cand.Children, p.SKU) {
					child, p = p.SKU, cand
					break
				}
			}
		}
		s.nextItemID++
		price := p.priceFor(st.ID)
		parent := OrderItem{
			ItemID: s.nextItemID, SKU: p.SKU, Name: p.Name, ProductID: p.ID, ProductType: p.Type, QtyOrdered: qty,
			Price: price, OriginalPrice: price, RowTotal: price.Mul(qty), TaxPercent: rate.Mul(decimal.NewFromInt(100)),
		}
		var kids []OrderItem
		switch p.Type {
		case "configurable":
			if child == "" {
				child = p.Children[s.rng.IntN(len(p.Children))]
			}
			if !contains(p.Children, child) {
				return nil, fmt.Errorf("place order: %q is not a child of %q: %w", child, p.SKU, ErrNotFound)
			}
			cp := s.products[child]
			parent.SKU = cp.SKU // the parent line carries the chosen child's SKU and the parent's name
			s.nextItemID++
			kids = append(kids, OrderItem{ItemID: s.nextItemID, ParentItemID: parent.ItemID, SKU: cp.SKU, Name: cp.Name,
				ProductID: cp.ID, ProductType: "simple", QtyOrdered: qty, Price: decimal.Zero, OriginalPrice: decimal.Zero,
				RowTotal: decimal.Zero, TaxPercent: decimal.Zero})
		case "bundle":
			for _, csku := range p.Children {
				cp := s.products[csku]
				s.nextItemID++
				kids = append(kids, OrderItem{ItemID: s.nextItemID, ParentItemID: parent.ItemID, SKU: cp.SKU, Name: cp.Name,
					ProductID: cp.ID, ProductType: "simple", QtyOrdered: qty, Price: decimal.Zero, OriginalPrice: cp.Price,
					RowTotal: decimal.Zero, TaxPercent: decimal.Zero})
			}
		}
		if p.Type != "virtual" {
			physical = physical.Add(qty)
		}
		parents = append(parents, len(o.Items))
		o.Items = append(o.Items, parent)
		o.Items = append(o.Items, kids...)
	}
	subtotal := decimal.Zero
	for _, i := range parents {
		subtotal = subtotal.Add(o.Items[i].RowTotal)
	}
	discount := spec.Discount.Abs().Round(2)
	if discount.IsZero() && len(spec.Lines) == 0 && !spec.NoDiscount && s.rng.IntN(4) == 0 {
		discount = subtotal.Mul(decimal.RequireFromString("0.1")).Round(2) // a 10% cart rule
	}
	if discount.GreaterThan(subtotal) {
		discount = subtotal
	}
	// Spread the discount over parent lines pro rata; the last takes the rest.
	left := discount
	tax := decimal.Zero
	for n, i := range parents {
		it := &o.Items[i]
		d := left
		if n < len(parents)-1 && !subtotal.IsZero() {
			d = discount.Mul(it.RowTotal).Div(subtotal).Round(2)
		}
		left = left.Sub(d)
		it.DiscountAmount = d
		it.TaxAmount = it.RowTotal.Sub(d).Mul(rate).Round(2)
		tax = tax.Add(it.TaxAmount)
	}
	o.Subtotal, o.DiscountAmount, o.TaxAmount = subtotal, discount.Neg(), tax
	if physical.IsPositive() {
		o.ShippingMethod = spec.ShippingMethod
		if o.ShippingMethod == "" {
			o.ShippingMethod = "flatrate_flatrate"
		}
		o.ShippingDescription = "Flat Rate - Fixed"
		o.ShippingAmount = physical.Mul(decimal.NewFromInt(5))
		a := o.BillingAddress
		o.ShippingAddress = &a
	}
	o.GrandTotal = o.Subtotal.Add(o.ShippingAmount).Add(o.TaxAmount).Add(o.DiscountAmount)
	return o, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func (s *Server) randHexLocked(n int) string {
	const hx = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hx[s.rng.IntN(16)]
	}
	return string(b)
}

// storeName is the order's store_name: website, store and view, joined by
// newlines, as Commerce writes it.
func (s *Server) storeName(storeID int) string {
	st := s.storeByID(storeID)
	return "Main Website\nMain Website Store\n" + st.Name
}

// orderREST renders the GET /V1/orders shape (§7).
func (s *Server) orderRESTLocked(o *Order) Object {
	paid := decimal.Zero
	for _, inv := range s.invoices {
		if inv.OrderID == o.EntityID && inv.State == InvoicePaid {
			paid = paid.Add(inv.GrandTotal)
		}
	}
	return s.orderNestedLocked(o, s.orderScalars(o, paid))
}

// orderScalars are the order's top-level scalar fields: what searchCriteria
// filters and sorts on.
func (s *Server) orderScalars(o *Order, paid decimal.Decimal) Object {
	rec := Object{
		{"base_currency_code", o.Currency}, {"base_discount_amount", num(o.DiscountAmount)}, {"base_grand_total", num(o.GrandTotal)},
		{"base_shipping_amount", num(o.ShippingAmount)}, {"base_subtotal", num(o.Subtotal)}, {"base_tax_amount", num(o.TaxAmount)},
		{"created_at", ts(o.CreatedAt)}, {"customer_email", o.CustomerEmail}, {"customer_firstname", o.CustomerFirstname},
		{"customer_group_id", o.CustomerGroupID},
	}
	if !o.CustomerIsGuest {
		rec = append(rec, KV{"customer_id", o.CustomerID})
	}
	rec = append(rec, Object{
		{"customer_is_guest", boolInt(o.CustomerIsGuest)}, {"customer_lastname", o.CustomerLastname},
		{"discount_amount", num(o.DiscountAmount)}, {"entity_id", o.EntityID}, {"global_currency_code", o.Currency},
		{"grand_total", num(o.GrandTotal)}, {"increment_id", o.IncrementID}, {"order_currency_code", o.Currency},
		{"quote_id", o.QuoteID}, {"remote_ip", o.RemoteIP}, {"shipping_amount", num(o.ShippingAmount)},
		{"shipping_incl_tax", num(o.ShippingAmount)}, {"state", o.State}, {"status", o.Status},
		{"store_currency_code", o.Currency}, {"store_id", o.StoreID}, {"store_name", s.storeName(o.StoreID)},
		{"subtotal", num(o.Subtotal)}, {"subtotal_incl_tax", num(o.Subtotal.Add(o.TaxAmount))}, {"tax_amount", num(o.TaxAmount)},
		{"total_due", num(o.GrandTotal.Sub(paid))}, {"total_item_count", len(o.Items)}, {"total_paid", num(paid)},
		{"total_qty_ordered", num(o.totalQty())}, {"updated_at", ts(o.UpdatedAt)},
	}...)
	if o.ShippingAddress != nil {
		rec = append(rec, KV{"shipping_description", o.ShippingDescription})
	}
	return rec
}

// orderNestedLocked appends items, addresses, payment and extension
// attributes to the scalar record.
func (s *Server) orderNestedLocked(o *Order, rec Object) Object {
	items := []any{}
	byID := map[int]Object{}
	for _, it := range o.Items {
		obj := s.itemREST(o, it)
		byID[it.ItemID] = obj
		if it.ParentItemID != 0 {
			obj = append(obj, KV{"parent_item", byID[it.ParentItemID]}, KV{"parent_item_id", it.ParentItemID})
		}
		items = append(items, obj)
	}
	rec = append(rec[:len(rec):len(rec)], KV{"items", items})
	rec = append(rec, KV{"billing_address", o.BillingAddress.rest("billing")},
		KV{"payment", Object{{"account_status", nil}, {"additional_information", []any{paymentTitle(o.PaymentMethod)}},
			{"amount_ordered", num(o.GrandTotal)}, {"method", o.PaymentMethod}}},
		KV{"status_histories", []any{}})
	ext := Object{}
	if o.ShippingAddress != nil {
		assignItems := append([]any{}, items...)
		ext = append(ext, KV{"shipping_assignments", []any{Object{
			{"shipping", Object{
				{"address", o.ShippingAddress.rest("shipping")}, {"method", o.ShippingMethod},
				{"total", Object{{"base_shipping_amount", num(o.ShippingAmount)}, {"shipping_amount", num(o.ShippingAmount)},
					{"shipping_incl_tax", num(o.ShippingAmount)}}},
			}},
			{"items", assignItems},
		}}})
	}
	ext = append(ext, KV{"payment_additional_info", []any{Object{{"key", "method_title"}, {"value", paymentTitle(o.PaymentMethod)}}}})
	rec = append(rec, KV{"extension_attributes", ext})
	return rec
}

func paymentTitle(method string) string {
	switch method {
	case "checkmo":
		return "Check / Money order"
	case "free":
		return "No Payment Information Required"
	}
	return "Credit Card (" + method + ")"
}

func (s *Server) itemREST(o *Order, it OrderItem) Object {
	return Object{
		{"base_price", num(it.Price)}, {"base_row_total", num(it.RowTotal)}, {"created_at", ts(o.CreatedAt)},
		{"discount_amount", num(it.DiscountAmount)}, {"discount_percent", 0}, {"item_id", it.ItemID}, {"name", it.Name},
		{"order_id", o.EntityID}, {"original_price", num(it.OriginalPrice)}, {"price", num(it.Price)},
		{"price_incl_tax", num(it.Price.Add(it.Price.Mul(it.TaxPercent).Div(decimal.NewFromInt(100))).Round(2))},
		{"product_id", it.ProductID}, {"product_type", it.ProductType}, {"qty_canceled", 0}, {"qty_invoiced", num(it.QtyInvoiced)},
		{"qty_ordered", num(it.QtyOrdered)}, {"qty_refunded", 0}, {"qty_shipped", 0}, {"quote_item_id", 5000 + it.ItemID},
		{"row_total", num(it.RowTotal)}, {"row_total_incl_tax", num(it.RowTotal.Add(it.TaxAmount))}, {"sku", it.SKU},
		{"store_id", o.StoreID}, {"tax_amount", num(it.TaxAmount)}, {"tax_percent", num(it.TaxPercent)},
		{"updated_at", ts(o.UpdatedAt)},
	}
}

// orderModelLocked renders the order MODEL data the observer hook sends:
// no entity_id yet (place_after fires before the save), addresses[] with
// address_type, street as one string, floats, empty objects as [].
func (s *Server) orderModelLocked(o *Order) Object {
	items := []any{}
	for _, it := range o.Items {
		opts := Object{{"info_buyRequest", Object{
			{"uenc", "aHR0cHM6Ly9zaG9wLmV4YW1wbGUuY29tL2NoZWNrb3V0L2NhcnQv"}, {"product", fmt.Sprint(it.ProductID)},
			{"qty", it.QtyOrdered},
		}}}
		if it.ParentItemID != 0 {
			opts = Object{}
		}
		items = append(items, Object{
			{"quote_item_id", 5000 + it.ItemID}, {"store_id", o.StoreID}, {"product_id", fmt.Sprint(it.ProductID)},
			{"product_type", it.ProductType}, {"product_options", opts}, {"sku", it.SKU}, {"name", it.Name},
			{"qty_ordered", it.QtyOrdered}, {"price", it.Price}, {"base_price", it.Price}, {"original_price", it.OriginalPrice},
			{"tax_percent", it.TaxPercent}, {"tax_amount", it.TaxAmount}, {"row_total", it.RowTotal},
			{"discount_amount", it.DiscountAmount}, {"parent_item_id", nil}, {"is_virtual", boolInt(it.ProductType == "virtual")},
		})
	}
	addrs := []any{o.BillingAddress.model("billing")}
	if o.ShippingAddress != nil {
		addrs = append(addrs, o.ShippingAddress.model("shipping"))
	}
	var custID any
	if !o.CustomerIsGuest {
		custID = o.CustomerID
	}
	model := Object{
		{"increment_id", o.IncrementID}, {"store_id", o.StoreID}, {"store_name", s.storeName(o.StoreID)},
		{"quote_id", o.QuoteID}, {"remote_ip", o.RemoteIP}, {"state", o.State}, {"status", o.Status},
		{"customer_id", custID}, {"customer_email", o.CustomerEmail}, {"customer_firstname", o.CustomerFirstname},
		{"customer_lastname", o.CustomerLastname}, {"customer_is_guest", boolInt(o.CustomerIsGuest)},
		{"customer_group_id", o.CustomerGroupID}, {"customer_note_notify", true},
		{"base_currency_code", o.Currency}, {"global_currency_code", o.Currency}, {"order_currency_code", o.Currency},
		{"store_currency_code", o.Currency}, {"base_grand_total", o.GrandTotal}, {"grand_total", o.GrandTotal},
		{"base_subtotal", o.Subtotal}, {"subtotal", o.Subtotal}, {"tax_amount", o.TaxAmount},
		{"discount_amount", o.DiscountAmount}, {"shipping_amount", o.ShippingAmount},
		{"shipping_method", nullIfEmpty(o.ShippingMethod)}, {"shipping_description", nullIfEmpty(o.ShippingDescription)},
		{"total_qty_ordered", o.totalQty()}, {"total_item_count", len(o.Items)},
		{"items", items}, {"addresses", addrs},
		{"payment", Object{{"method", o.PaymentMethod}, {"amount_ordered", o.GrandTotal},
			{"additional_information", Object{{"method_title", paymentTitle(o.PaymentMethod)}}}}},
		{"status_histories", []any{}}, {"extension_attributes", Object{}},
	}
	return model
}

func orderColumns() map[string]bool {
	return map[string]bool{
		"entity_id": true, "increment_id": true, "store_id": true, "state": true, "status": true, "created_at": true,
		"updated_at": true, "customer_email": true, "customer_id": true, "customer_is_guest": true, "customer_group_id": true,
		"customer_firstname": true, "customer_lastname": true, "grand_total": true, "base_grand_total": true, "subtotal": true,
		"order_currency_code": true, "base_currency_code": true, "quote_id": true, "tax_amount": true, "discount_amount": true,
		"shipping_amount": true, "total_qty_ordered": true, "remote_ip": true, "total_due": true, "total_paid": true,
	}
}

// listResponse runs a search over records and renders the list envelope;
// expand (optional) turns a matched record into the full item, so that only
// the returned page is rendered in full.
func (s *Server) listResponse(rq *apiRequest, records []record, columns map[string]bool, expand func(record) any) (int, any) {
	return s.listResponseBy(rq, func(SearchCriteria) []record { return records }, columns, expand)
}

// listResponseBy is listResponse over the records rows returns for the
// parsed criteria: every record, or fewer that include all it can match
// (in the same order), which is how an index narrows a search.
func (s *Server) listResponseBy(rq *apiRequest, rows func(SearchCriteria) []record, columns map[string]bool, expand func(record) any) (int, any) {
	q := rq.r.URL.Query()
	present := false
	for k := range q {
		present = present || strings.HasPrefix(k, "searchCriteria")
	}
	if !present {
		// getList's searchCriteria argument is not optional (ServiceInputProcessor).
		return badRequest("\"%fieldName\" is required. Enter and try again.", Object{{"fieldName", "searchCriteria"}})
	}
	sc, err := ParseSearchCriteria(q)
	if err != nil {
		return badRequest("The \"%value\" value's type is invalid. The \"%type\" type was expected. Verify and try again.",
			Object{{"value", err.Error()}, {"type", "int"}})
	}
	page, total, err := sc.apply(rows(sc), columns, s.cfg.InputLimits)
	if err != nil {
		se := err.(*searchError)
		return se.status, errorBody(se.message, se.params)
	}
	items := make([]any, len(page))
	for i, p := range page {
		items[i] = p
		if expand != nil {
			items[i] = expand(p)
		}
	}
	return http.StatusOK, Object{{"items", items}, {"search_criteria", sc.echo()}, {"total_count", total}}
}

func (s *Server) hListOrders(rq *apiRequest) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock() // the rows are live views: search under the lock
	now := s.nowLocked()
	return s.listResponseBy(rq, func(sc SearchCriteria) []record {
		orders := s.orders
		if v, ok := sc.requiredEq("increment_id"); ok {
			orders = s.ordersByFold[foldASCII(v)] // a confirmation look-up: one order, not all
		}
		var recs []record
		for _, o := range orders {
			if o.visible(now) {
				recs = append(recs, orderRow{o: o, paid: s.paidLocked(o.EntityID)})
			}
		}
		return recs
	}, orderColumns(), func(r record) any {
		row := r.(orderRow)
		return s.orderNestedLocked(row.o, s.orderScalars(row.o, row.paid))
	})
}

// paidLocked is what the order's paid invoices total.
func (s *Server) paidLocked(orderID int) decimal.Decimal {
	var paid decimal.Decimal
	for _, inv := range s.invoicesByOrder[orderID] {
		if inv.State == InvoicePaid {
			paid = paid.Add(inv.GrandTotal)
		}
	}
	return paid
}

// orderRow is a lazy searchable view of an order (read under s.mu): only
// the fields a search touches are computed.
type orderRow struct {
	o    *Order
	paid decimal.Decimal
}

func (r orderRow) Get(field string) (any, bool) {
	o := r.o
	switch field {
	case "entity_id":
		return o.EntityID, true
	case "increment_id":
		return o.IncrementID, true
	case "store_id":
		return o.StoreID, true
	case "state":
		return o.State, true
	case "status":
		return o.Status, true
	case "created_at":
		return ts(o.CreatedAt), true
	case "updated_at":
		return ts(o.UpdatedAt), true
	case "customer_email":
		return o.CustomerEmail, true
	case "customer_id":
		if o.CustomerIsGuest {
			return nil, false
		}
		return o.CustomerID, true
	case "customer_is_guest":
		return boolInt(o.CustomerIsGuest), true
	case "customer_group_id":
		return o.CustomerGroupID, true
	case "customer_firstname":
		return o.CustomerFirstname, true
	case "customer_lastname":
		return o.CustomerLastname, true
	case "grand_total", "base_grand_total":
		return o.GrandTotal, true
	case "subtotal":
		return o.Subtotal, true
	case "order_currency_code", "base_currency_code":
		return o.Currency, true
	case "quote_id":
		return o.QuoteID, true
	case "tax_amount":
		return o.TaxAmount, true
	case "discount_amount":
		return o.DiscountAmount, true
	case "shipping_amount":
		return o.ShippingAmount, true
	case "total_qty_ordered":
		return o.totalQty(), true
	case "remote_ip":
		return o.RemoteIP, true
	case "total_due":
		return o.GrandTotal.Sub(r.paid), true
	case "total_paid":
		return r.paid, true
	}
	return nil, false
}

func entityMissing() (int, any) {
	return notFound("The entity that was requested doesn't exist. Verify the entity and try again.", nil)
}

func (s *Server) hGetOrder(rq *apiRequest) (int, any) {
	id, ok := atoiParam(rq.params["id"])
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ordersByEntity[id]
	if !ok || o == nil || !o.visible(s.nowLocked()) {
		return entityMissing()
	}
	return http.StatusOK, s.orderRESTLocked(o)
}

// Orders returns every order the simulator knows, including uncommitted,
// aborted and rolled-back ones (see Placed, RolledBack, VisibleAt).
func (s *Server) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Order, len(s.orders))
	for i, o := range s.orders {
		out[i] = o.clone()
	}
	return out
}

// Order returns one order by increment id.
func (s *Server) Order(incrementID string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ordersByIncr[incrementID]
	if o == nil {
		return Order{}, false
	}
	return o.clone(), true
}

// RollbackOrder makes an order a phantom: its webhook fired but it never
// becomes visible through REST.
func (s *Server) RollbackOrder(incrementID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ordersByIncr[incrementID]
	if o == nil {
		return fmt.Errorf("rollback order %s: %w", incrementID, ErrNotFound)
	}
	o.RolledBack = true
	return nil
}

func stateForStatus() map[string]string {
	return map[string]string{
		"pending": "new", "processing": "processing", "complete": "complete", "closed": "closed",
		"canceled": "canceled", "holded": "holded", "fraud": "payment_review", "payment_review": "payment_review",
	}
}

// UpdateOrderStatus changes an order's status (and the matching state) and
// bumps updated_at, as every save does.
func (s *Server) UpdateOrderStatus(ctx context.Context, entityID int, status string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ordersByEntity[entityID]
	if o == nil {
		return fmt.Errorf("update order %d: %w", entityID, ErrNotFound)
	}
	o.Status = status
	if st, ok := stateForStatus()[status]; ok {
		o.State = st
	}
	o.UpdatedAt = s.nowLocked()
	return nil
}
