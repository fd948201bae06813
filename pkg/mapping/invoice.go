package mapping

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/commercefact"
	"github.com/ml-connector/ml-connector/pkg/event"
)

// mapInvoice maps a captured Commerce invoice to the NetSuite invoice of
// its sales order. By transform (the default) the body overrides the sales
// order's lines, numbered as mapOrder laid them out: every item line gets
// the invoiced quantity (0 when this invoice bills none of it), discount
// and tax lines this invoice's share, and shippingCost the invoice's
// shipping, so partial invoices bill exactly what Commerce invoiced. Direct
// mode builds a full invoice record from the invoice lines.
func mapInvoice(in Input) (event.NetSuiteCommand, error) {
	f, inv, r := in.Fact, in.Fact.Invoice, in.Rules
	what := "invoice " + clip(inv.IncrementID)
	if err := require(f, what, commercefact.PartState, commercefact.PartTimestamps, commercefact.PartCurrency,
		commercefact.PartOrderIncrementID, commercefact.PartLines, commercefact.PartLineAmounts, commercefact.PartTotals); err != nil {
		return event.NetSuiteCommand{}, err
	}
	if !inv.Captured() {
		return event.NetSuiteCommand{}, fmt.Errorf("%w: %s is not captured (state %d)", ErrSkipped, what, inv.State)
	}
	what += " of order " + clip(inv.OrderIncrementID)
	o := in.Order
	if o == nil {
		return event.NetSuiteCommand{}, fmt.Errorf("%w: %s: the order is not given", ErrIncomplete, what)
	}
	if o.IncrementID != inv.OrderIncrementID {
		return event.NetSuiteCommand{}, fmt.Errorf("%w: %s: the order given is %s", ErrIncomplete, what, clip(o.IncrementID))
	}
	of := commercefact.Fact{Kind: event.OrderPlaced, Store: f.Store, Order: o}
	p := problems{record: what}
	ext, err := event.InvoiceExternalID(f.Store, inv.IncrementID)
	if err != nil {
		p.add("external id", inv.IncrementID, err.Error())
	}
	soExt, err := event.SalesOrderExternalID(f.Store, o.IncrementID)
	if err != nil {
		p.add("sales order external id", o.IncrementID, err.Error())
	}
	h := orderHeader(in, o, &p)
	if inv.Currency != o.Currency {
		p.add("currency", inv.Currency, fmt.Sprintf("the invoice's currency %s is not its order's (%s)", clip(inv.Currency), clip(o.Currency)))
	}
	m := money{places: Precision(o.Currency)}
	lines := selectLines(o.Lines, r.Bundles)
	emitted := make(map[int64]commercefact.Line, len(lines))
	for _, l := range lines {
		emitted[l.ItemID] = l
	}
	onOrder := make(map[int64]bool, len(o.Lines))
	for _, l := range o.Lines {
		onOrder[l.ItemID] = true
	}
	billed := map[int64]commercefact.InvoiceLine{}
	for _, il := range inv.Lines {
		if !onOrder[il.OrderItemID] {
			p.add("invoice line", il.SKU, fmt.Sprintf("invoice line SKU %s (order item %d) is not on the order", clip(il.SKU), il.OrderItemID))
			continue
		}
		if _, ok := emitted[il.OrderItemID]; !ok {
			continue // a configurable's child, a fixed bundle's child: billed through the emitted line
		}
		b := billed[il.OrderItemID]
		b.OrderItemID, b.SKU = il.OrderItemID, il.SKU
		b.Qty, b.RowTotal = b.Qty.Add(il.Qty), b.RowTotal.Add(il.RowTotal)
		b.DiscountAmount, b.TaxAmount = b.DiscountAmount.Add(il.DiscountAmount.Abs()), b.TaxAmount.Add(il.TaxAmount)
		b.Price = il.Price
		billed[il.OrderItemID] = b
		if ol := emitted[il.OrderItemID]; b.Qty.GreaterThan(ol.Qty) {
			p.add("invoice quantity", b.Qty.String(), fmt.Sprintf("SKU %s is invoiced %s times but ordered %s", clip(il.SKU), b.Qty, ol.Qty))
		}
	}
	if len(billed) == 0 {
		p.add("lines", "", "the invoice bills none of the order's lines")
	}
	am := amounts{discount: inv.Totals.Discount.Abs(), tax: inv.Totals.Tax, shipping: inv.Totals.Shipping,
		label: discountLabel(o.DiscountDescription, o.CouponCode)}
	var (
		rec    []byte
		totals *event.Totals
	)
	tranDate := inv.CreatedAt.In(r.loc).Format("2006-01-02")
	memoText := memo("Commerce invoice "+inv.IncrementID+" of order "+o.IncrementID, o.CouponCode)
	switch r.Invoices {
	case event.InvoiceDirect:
		srcs := make([]source, 0, len(billed))
		for _, l := range lines {
			b, ok := billed[l.ItemID]
			if !ok {
				continue
			}
			srcs = append(srcs, source{orderItem: l.ItemID, sku: l.SKU, name: l.Name, qty: b.Qty, price: b.Price,
				rowTotal: b.RowTotal, discount: b.DiscountAmount})
		}
		tx := build(r, m, in.Items, srcs, am, &p)
		if err := p.err(); err != nil {
			return event.NetSuiteCommand{}, err
		}
		body := salesOrder{
			ExternalID: ext, Subsidiary: refOf(h.subsidiary), Currency: refOf(h.currency), TranDate: tranDate,
			OtherRefNum: o.IncrementID, Memo: memoText, Email: o.Customer.Email, Location: refOf(r.Location),
			BillingAddress: addressOf(o.BillingAddress), ShippingAddress: addressOf(o.ShippingAddress), Item: itemLines(tx),
		}
		if o.ShippingAddress != nil || o.Shipping.Method != "" || !tx.shipping.IsZero() {
			body.ShipMethod = refOf(shipMethod(r, o.Shipping.Method))
			cost := m.num(tx.shipping)
			body.ShippingCost = &cost
		}
		totals = totalsOf(r, m, inv.Currency, inv.Totals.GrandTotal, tx.netsuite)
		if rec, err = encode(body, custom(r, m, totals, o.CouponCode)); err != nil {
			return event.NetSuiteCommand{}, err
		}
	default:
		if err := require(of, "order "+clip(o.IncrementID), orderParts()...); err != nil {
			return event.NetSuiteCommand{}, err
		}
		var op problems
		orderTx := orderTransaction(in, o, lines, m, &op)
		if len(op.list) > 0 {
			// The sales order could not have been created with these lines.
			for _, pr := range op.list {
				p.add(pr.Field, pr.Value, "its order: "+pr.Text)
			}
		}
		if err := p.err(); err != nil {
			return event.NetSuiteCommand{}, err
		}
		body, netsuite := transformBody(r, m, orderTx, billed, am)
		body.ExternalID, body.TranDate, body.OtherRefNum, body.Memo = ext, tranDate, o.IncrementID, memoText
		totals = totalsOf(r, m, inv.Currency, inv.Totals.GrandTotal, netsuite)
		if rec, err = encode(body, custom(r, m, totals, o.CouponCode)); err != nil {
			return event.NetSuiteCommand{}, err
		}
	}
	return event.NetSuiteCommand{
		Kind: event.KindInvoice, Store: f.Store, SourceID: inv.IncrementID, ExternalID: ext, Record: rec,
		Subsidiary: h.subsidiary, Customer: h.customer, Totals: totals,
		Invoice: &event.InvoiceRef{Mode: r.Invoices, SalesOrderExternalID: soExt, OrderIncrementID: o.IncrementID},
	}, nil
}

// transformBody overrides every line of the sales order (line n of the
// order's layout is orderLine n) with what this invoice bills, and returns
// the NetSuite total of the resulting invoice.
func transformBody(r Rules, m money, orderTx transaction, billed map[int64]commercefact.InvoiceLine, am amounts) (invoiceTransform, decimal.Decimal) {
	var lines []transformLine
	total := decimal.Zero
	lineDiscounts := decimal.Zero
	for _, b := range billed {
		lineDiscounts = lineDiscounts.Add(m.round(b.DiscountAmount))
	}
	whole := m.round(am.discount)
	rest := whole.Sub(lineDiscounts)
	zero := func(n int) transformLine { return transformLine{OrderLine: n, Quantity: jsonNum("0")} }
	withRate := func(n int, rate decimal.Decimal) transformLine {
		rn := m.num(rate)
		return transformLine{OrderLine: n, Rate: &rn}
	}
	for i, ol := range orderTx.lines {
		n := i + 1
		switch ol.kind {
		case kindItem:
			b, ok := billed[ol.orderItem]
			if !ok || b.Qty.IsZero() {
				lines = append(lines, zero(n))
				continue
			}
			q := qtyNum(b.Qty)
			lines = append(lines, transformLine{OrderLine: n, Quantity: &q})
			rate, _ := decimal.NewFromString(ol.line.Rate.String())
			total = total.Add(m.lineAmount(b.Qty, rate))
		case kindDiscount:
			d := rest // the order-level discount line (DiscountLineItem remainder)
			switch {
			case r.Discounts == DiscountOrderItem:
				d = whole
			case ol.orderItem != 0:
				d = m.round(billed[ol.orderItem].DiscountAmount)
			}
			if !d.IsPositive() {
				lines = append(lines, zero(n))
				continue
			}
			lines = append(lines, withRate(n, d.Neg()))
			total = total.Sub(d)
		case kindTax:
			t := m.round(am.tax)
			if t.IsZero() {
				lines = append(lines, zero(n))
				continue
			}
			lines = append(lines, withRate(n, t))
			total = total.Add(t)
		}
	}
	shipping := m.round(am.shipping)
	if r.Discounts == DiscountNet && rest.IsPositive() && rest.LessThanOrEqual(shipping) {
		shipping = shipping.Sub(rest)
	}
	cost := m.num(shipping)
	total = total.Add(shipping)
	if r.Tax == TaxNetSuite {
		total = total.Add(m.round(am.tax))
	}
	return invoiceTransform{ShippingCost: &cost, Item: &sublist[transformLine]{Items: lines}}, total
}
