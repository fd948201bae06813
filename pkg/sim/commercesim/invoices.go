package commercesim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Invoice states.
const (
	InvoiceOpen     = 1
	InvoicePaid     = 2
	InvoiceCanceled = 3
)

// ErrCannotInvoice is returned when the order is fully invoiced.
var ErrCannotInvoice = errors.New("commercesim: the order does not allow an invoice to be created")

// CaptureInvoice invoices the whole order with state 2 (paid) and fires
// observer.sales_order_invoice_save_after.
func (s *Server) CaptureInvoice(ctx context.Context, orderEntityID int) (Invoice, error) {
	return s.SaveInvoice(ctx, orderEntityID, InvoicePaid)
}

// SaveInvoice saves an invoice for the order in the given state and fires
// the invoice webhook (non-paid saves fire it too; receivers must ignore
// them). If the order has an open invoice and state is not open, that
// invoice moves to state (pay or cancel); otherwise a new invoice covering
// the not yet invoiced quantities is created.
func (s *Server) SaveInvoice(ctx context.Context, orderEntityID, state int) (Invoice, error) {
	if state < InvoiceOpen || state > InvoiceCanceled {
		return Invoice{}, fmt.Errorf("save invoice: state %d is not 1, 2 or 3", state)
	}
	s.mu.Lock()
	o := s.ordersByEntity[orderEntityID]
	if o == nil || !o.Placed || o.RolledBack {
		s.mu.Unlock()
		return Invoice{}, fmt.Errorf("save invoice for order %d: %w", orderEntityID, ErrNotFound)
	}
	st := s.storeByID(o.StoreID)
	now := s.nowLocked()
	var inv *Invoice
	var existing *Invoice
	if state != InvoiceOpen {
		for _, i := range s.invoicesByOrder[o.EntityID] {
			if i.State == InvoiceOpen {
				existing = i
			}
		}
	}
	if existing != nil {
		c := existing.clone()
		c.State, c.UpdatedAt = state, now
		if state == InvoicePaid {
			c.TransactionID = "txn-" + s.randHexLocked(10)
		}
		inv = &c
	} else {
		var err error
		inv, err = s.buildInvoiceLocked(o, state, now)
		if err != nil {
			s.mu.Unlock()
			return Invoice{}, err
		}
	}
	model := s.invoiceModelLocked(inv)
	body := Object{{"eventName", "sales_order_invoice_save_after"}, {"data", Object{{"data_object", model}, {"invoice", model}}}}
	s.mu.Unlock()

	d, aborted := s.fire(ctx, "sales_order_invoice_save_after", "/invoice-captured", st.Code, inv.IncrementID, body)
	inv.Delivery = d
	if aborted {
		return inv.clone(), fmt.Errorf("save invoice %s: %w", inv.IncrementID, ErrCheckoutAborted)
	}

	s.mu.Lock()
	defer s.emitIOEvent("sales_order_invoice_save_after", st, inv.IncrementID, invoiceIOValue(inv))
	defer s.mu.Unlock()
	if existing != nil {
		*existing = *inv
	} else {
		s.invoices = append(s.invoices, inv)
		s.invoicesByOrder[inv.OrderID] = append(s.invoicesByOrder[inv.OrderID], inv)
		if state != InvoiceCanceled {
			for _, ii := range inv.Items {
				for k := range o.Items {
					if o.Items[k].ItemID == ii.OrderItemID {
						o.Items[k].QtyInvoiced = o.Items[k].QtyInvoiced.Add(ii.Qty)
					}
				}
			}
		}
	}
	if state == InvoicePaid && o.State == "new" {
		o.State, o.Status = "processing", "processing"
	}
	o.UpdatedAt = s.nowLocked()
	return inv.clone(), nil
}

// buildInvoiceLocked reserves ids and builds an invoice for what is left to
// invoice on the order.
func (s *Server) buildInvoiceLocked(o *Order, state int, now time.Time) (*Invoice, error) {
	inv := &Invoice{OrderID: o.EntityID, OrderIncrementID: o.IncrementID, Store: o.Store, StoreID: o.StoreID, State: state,
		Currency: o.Currency, CreatedAt: now, UpdatedAt: now}
	any := false
	for _, it := range o.Items {
		left := it.QtyOrdered.Sub(it.QtyInvoiced)
		if !left.IsPositive() {
			continue
		}
		any = true
		frac := left.Div(it.QtyOrdered)
		ii := InvoiceItem{OrderItemID: it.ItemID, SKU: it.SKU, Name: it.Name, ProductID: it.ProductID, Qty: left, Price: it.Price,
			RowTotal: it.Price.Mul(left), TaxAmount: it.TaxAmount.Mul(frac).Round(2), DiscountAmount: it.DiscountAmount.Mul(frac).Round(2)}
		inv.Items = append(inv.Items, ii)
		if it.ParentItemID == 0 {
			inv.Subtotal = inv.Subtotal.Add(ii.RowTotal)
			inv.TaxAmount = inv.TaxAmount.Add(ii.TaxAmount)
			inv.DiscountAmount = inv.DiscountAmount.Sub(ii.DiscountAmount)
			inv.TotalQty = inv.TotalQty.Add(ii.Qty)
		}
	}
	if !any {
		return nil, fmt.Errorf("save invoice for order %s: %w", o.IncrementID, ErrCannotInvoice)
	}
	// Shipping is invoiced with the first invoice.
	shippingInvoiced := false
	for _, i := range s.invoicesByOrder[o.EntityID] {
		if i.State != InvoiceCanceled && i.ShippingAmount.IsPositive() {
			shippingInvoiced = true
		}
	}
	if !shippingInvoiced {
		inv.ShippingAmount = o.ShippingAmount
	}
	inv.GrandTotal = inv.Subtotal.Add(inv.TaxAmount).Add(inv.DiscountAmount).Add(inv.ShippingAmount)
	s.nextInvoiceID++
	s.invoiceSeq[o.StoreID]++
	inv.EntityID = s.nextInvoiceID
	inv.IncrementID = incrementID(o.StoreID, s.invoiceSeq[o.StoreID])
	for k := range inv.Items {
		s.nextItemID++
		inv.Items[k].EntityID = s.nextItemID
		inv.Items[k].ParentID = inv.EntityID
	}
	if state == InvoicePaid {
		inv.TransactionID = "txn-" + s.randHexLocked(10)
	}
	return inv, nil
}

// invoiceModelLocked is the invoice model data (after save: entity_id set).
func (s *Server) invoiceModelLocked(inv *Invoice) Object {
	items := []any{}
	for _, it := range inv.Items {
		items = append(items, Object{
			{"entity_id", it.EntityID}, {"parent_id", inv.EntityID}, {"order_item_id", it.OrderItemID}, {"product_id", fmt.Sprint(it.ProductID)},
			{"sku", it.SKU}, {"name", it.Name}, {"qty", it.Qty}, {"price", it.Price}, {"base_price", it.Price},
			{"row_total", it.RowTotal}, {"tax_amount", it.TaxAmount}, {"discount_amount", it.DiscountAmount},
		})
	}
	var txn any
	if inv.TransactionID != "" {
		txn = inv.TransactionID
	}
	return Object{
		{"entity_id", inv.EntityID}, {"increment_id", inv.IncrementID}, {"order_id", inv.OrderID},
		{"order_increment_id", inv.OrderIncrementID}, {"store_id", inv.StoreID}, {"state", inv.State},
		{"base_currency_code", inv.Currency}, {"order_currency_code", inv.Currency}, {"store_currency_code", inv.Currency},
		{"grand_total", inv.GrandTotal}, {"base_grand_total", inv.GrandTotal}, {"subtotal", inv.Subtotal},
		{"tax_amount", inv.TaxAmount}, {"discount_amount", inv.DiscountAmount}, {"shipping_amount", inv.ShippingAmount},
		{"total_qty", inv.TotalQty}, {"transaction_id", txn}, {"created_at", ts(inv.CreatedAt)}, {"updated_at", ts(inv.UpdatedAt)},
		{"items", items}, {"comments", []any{}}, {"extension_attributes", Object{}},
	}
}

func invoiceREST(inv *Invoice) Object {
	items := []any{}
	for _, it := range inv.Items {
		items = append(items, Object{
			{"base_price", num(it.Price)}, {"discount_amount", num(it.DiscountAmount)}, {"entity_id", it.EntityID}, {"name", it.Name},
			{"order_item_id", it.OrderItemID}, {"parent_id", inv.EntityID}, {"price", num(it.Price)}, {"product_id", it.ProductID},
			{"qty", num(it.Qty)}, {"row_total", num(it.RowTotal)}, {"sku", it.SKU}, {"tax_amount", num(it.TaxAmount)},
		})
	}
	rec := Object{
		{"base_currency_code", inv.Currency}, {"base_discount_amount", num(inv.DiscountAmount)}, {"base_grand_total", num(inv.GrandTotal)},
		{"base_shipping_amount", num(inv.ShippingAmount)}, {"base_subtotal", num(inv.Subtotal)}, {"base_tax_amount", num(inv.TaxAmount)},
		{"created_at", ts(inv.CreatedAt)}, {"discount_amount", num(inv.DiscountAmount)}, {"entity_id", inv.EntityID},
		{"global_currency_code", inv.Currency}, {"grand_total", num(inv.GrandTotal)}, {"increment_id", inv.IncrementID},
		{"order_currency_code", inv.Currency}, {"order_id", inv.OrderID}, {"shipping_amount", num(inv.ShippingAmount)},
		{"state", inv.State}, {"store_currency_code", inv.Currency}, {"store_id", inv.StoreID}, {"subtotal", num(inv.Subtotal)},
		{"tax_amount", num(inv.TaxAmount)}, {"total_qty", num(inv.TotalQty)},
	}
	if inv.TransactionID != "" {
		rec = append(rec, KV{"transaction_id", inv.TransactionID})
	}
	rec = append(rec, KV{"updated_at", ts(inv.UpdatedAt)}, KV{"items", items}, KV{"comments", []any{}})
	return rec
}

func invoiceColumns() map[string]bool {
	return map[string]bool{
		"entity_id": true, "increment_id": true, "order_id": true, "state": true, "store_id": true, "created_at": true,
		"updated_at": true, "grand_total": true, "base_grand_total": true, "subtotal": true, "tax_amount": true,
		"order_currency_code": true, "transaction_id": true, "total_qty": true,
	}
}

func (s *Server) visibleInvoicesLocked() []*Invoice {
	now := s.nowLocked()
	var out []*Invoice
	for _, inv := range s.invoices {
		if o := s.ordersByEntity[inv.OrderID]; o != nil && o.visible(now) {
			out = append(out, inv)
		}
	}
	return out
}

func (s *Server) hListInvoices(rq *apiRequest) (int, any) {
	s.mu.Lock()
	var recs []record
	for _, inv := range s.visibleInvoicesLocked() {
		recs = append(recs, invoiceREST(inv))
	}
	s.mu.Unlock()
	return s.listResponse(rq, recs, invoiceColumns(), nil)
}

func (s *Server) hGetInvoice(rq *apiRequest) (int, any) {
	id, _ := atoiParam(rq.params["id"])
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, inv := range s.visibleInvoicesLocked() {
		if inv.EntityID == id {
			return http.StatusOK, invoiceREST(inv)
		}
	}
	return entityMissing()
}

// hCreateInvoice serves POST /V1/order/{orderId}/invoice {"capture":true}.
func (s *Server) hCreateInvoice(rq *apiRequest) (int, any) {
	id, ok := atoiParam(rq.params["orderId"])
	var body struct {
		Capture bool `json:"capture"`
		Notify  bool `json:"notify"`
	}
	if len(rq.body) > 0 {
		if err := json.Unmarshal(rq.body, &body); err != nil {
			return badRequest("Decoding error: %1", []any{err.Error()})
		}
	}
	s.mu.Lock()
	o := s.ordersByEntity[id]
	visible := ok && o != nil && o.visible(s.nowLocked())
	s.mu.Unlock()
	if !visible {
		return entityMissing()
	}
	state := InvoiceOpen
	if body.Capture || o.PaymentMethod == "checkmo" {
		state = InvoicePaid // offline methods pay the invoice at once
	}
	inv, err := s.SaveInvoice(rq.r.Context(), id, state)
	switch {
	case err == nil:
		return http.StatusOK, inv.EntityID
	case errorsIs(err, ErrCannotInvoice):
		return badRequest("The order does not allow an invoice to be created.", nil)
	case errorsIs(err, ErrCheckoutAborted):
		return badRequest("Could not save an invoice, see error log for details", nil)
	}
	return entityMissing()
}

// Invoices returns every saved invoice.
func (s *Server) Invoices() []Invoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Invoice, len(s.invoices))
	for i, inv := range s.invoices {
		out[i] = inv.clone()
	}
	return out
}
