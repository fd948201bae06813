package mapping

import (
	"fmt"
	"sort"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/commercefact"
)

// selectLines picks the Commerce lines that become NetSuite item lines:
// one per real item, never a parent and its children both (adobe-commerce.md
// §7). A configurable is its parent line (price, tax and discount are
// there; the child repeats the SKU at price 0). A bundle is its children
// when they are priced (dynamic pricing) or its parent (fixed pricing, a
// NetSuite kit), as Rules.Bundles says. Any other parent is emitted and its
// children skipped. A child whose parent is not on the order stands alone.
func selectLines(lines []commercefact.Line, bundles string) []commercefact.Line {
	present := make(map[int64]int, len(lines))
	for i, l := range lines {
		if l.ItemID != 0 {
			present[l.ItemID] = i
		}
	}
	children := map[int64][]commercefact.Line{}
	for _, l := range lines {
		if _, ok := present[l.ParentItemID]; ok && l.ParentItemID != 0 && l.ParentItemID != l.ItemID {
			children[l.ParentItemID] = append(children[l.ParentItemID], l)
		}
	}
	emitChildren := func(parent commercefact.Line) bool {
		kids := children[parent.ItemID]
		if parent.ProductType != "bundle" || len(kids) == 0 {
			return false
		}
		switch bundles {
		case BundleParent:
			return false
		case BundleChildren:
			return true
		}
		for _, k := range kids {
			if k.Price.IsPositive() || k.RowTotal.IsPositive() {
				return true
			}
		}
		return false
	}
	out := make([]commercefact.Line, 0, len(lines))
	for _, l := range lines {
		if i, ok := present[l.ParentItemID]; ok && l.ParentItemID != 0 && l.ParentItemID != l.ItemID {
			if emitChildren(lines[i]) {
				out = append(out, l)
			}
			continue
		}
		if emitChildren(l) {
			continue
		}
		if l.ProductType == "configurable" {
			// The chosen child's name says more than the parent's.
			if kids := children[l.ItemID]; len(kids) == 1 && kids[0].Name != "" {
				l.Name = kids[0].Name
			}
		}
		out = append(out, l)
	}
	return out
}

// source is one Commerce line as the builder needs it.
type source struct {
	orderItem int64
	sku, name string
	qty       decimal.Decimal
	price     decimal.Decimal
	rowTotal  decimal.Decimal
	discount  decimal.Decimal // positive
}

func sourceOf(l commercefact.Line) source {
	return source{orderItem: l.ItemID, sku: l.SKU, name: l.Name, qty: l.Qty, price: l.Price, rowTotal: l.RowTotal, discount: l.DiscountAmount.Abs()}
}

// Line kinds of a built transaction.
const (
	kindItem = iota
	kindDiscount
	kindTax
)

// built is one NetSuite line with the amount NetSuite will compute for it.
type built struct {
	line      line
	kind      int
	orderItem int64 // item lines and their line-level discount lines
	amount    decimal.Decimal
}

// totals are what a transaction's lines add up to.
type transaction struct {
	lines    []built
	shipping decimal.Decimal // the shippingCost to send
	// netsuite is the total the NetSuite record will have.
	netsuite decimal.Decimal
}

// amounts are a transaction's Commerce figures, order or invoice.
type amounts struct {
	discount decimal.Decimal // positive: the whole discount
	tax      decimal.Decimal
	shipping decimal.Decimal
	label    string // the discount lines' description
}

// build lays out the NetSuite lines of an order or a direct invoice: item
// lines with their SKUs resolved (unknown SKUs are problems), discount
// lines as the discount mode says, the tax line in TaxAmounts mode, and
// the expected NetSuite total (the rounding rule of money.go).
func build(r Rules, m money, items Items, srcs []source, am amounts, p *problems) transaction {
	var tx transaction
	var unknown []string
	seen := map[string]bool{}
	lineDiscounts := decimal.Zero
	inactive, _ := items.(InactiveItems)
	for _, s := range srcs {
		id, ok := items.ItemID(s.sku)
		if !ok {
			if seen[s.sku] {
				continue
			}
			seen[s.sku] = true
			if inactive != nil {
				if id, off := inactive.InactiveItem(s.sku); off {
					p.add("SKU", s.sku, fmt.Sprintf("SKU %s: its NetSuite item %s is inactive", clip(s.sku), clip(id)))
					continue
				}
			}
			unknown = append(unknown, s.sku)
			continue
		}
		if !s.qty.IsPositive() {
			p.add("quantity", s.qty.String(), fmt.Sprintf("SKU %s has quantity %s", clip(s.sku), s.qty))
			continue
		}
		d := m.round(s.discount)
		lineDiscounts = lineDiscounts.Add(d)
		target := m.round(s.rowTotal)
		if r.Discounts == DiscountNet {
			target = target.Sub(d)
		}
		rate := m.rateFor(s.price, s.qty, target)
		q := qtyNum(s.qty)
		l := line{Item: refOf(id), Quantity: &q, Rate: m.rateNum(rate), Description: s.name, Price: refOf(r.PriceLevel)}
		if r.Tax == TaxAmounts {
			l.TaxCode = refOf(r.TaxCode)
		}
		tx.lines = append(tx.lines, built{line: l, kind: kindItem, orderItem: s.orderItem, amount: m.lineAmount(s.qty, rate)})
		if r.Discounts == DiscountLineItem && d.IsPositive() {
			tx.lines = append(tx.lines, discountLine(r, m, d, am.label, s.orderItem))
		}
	}
	switch len(unknown) {
	case 0:
	case 1:
		p.add("SKU", unknown[0], fmt.Sprintf("SKU %s has no NetSuite item", clip(unknown[0])))
	default:
		sort.Strings(unknown)
		for i := range unknown {
			unknown[i] = clip(unknown[i])
		}
		p.add("SKU", strings.Join(unknown, ","), fmt.Sprintf("SKUs %s have no NetSuite item", strings.Join(unknown, ", ")))
	}
	total := m.round(am.discount)
	rest := total.Sub(lineDiscounts) // order-level discount, e.g. on shipping
	tx.shipping = m.round(am.shipping)
	switch r.Discounts {
	case DiscountNet:
		if rest.IsPositive() && rest.LessThanOrEqual(tx.shipping) {
			tx.shipping = tx.shipping.Sub(rest)
		}
	case DiscountLineItem:
		if rest.IsPositive() {
			tx.lines = append(tx.lines, discountLine(r, m, rest, am.label, 0))
		}
	case DiscountOrderItem:
		if total.IsPositive() {
			tx.lines = append(tx.lines, discountLine(r, m, total, am.label, 0))
		}
	}
	tax := m.round(am.tax)
	if r.Tax == TaxAmounts && !tax.IsZero() {
		tx.lines = append(tx.lines, built{line: line{Item: refOf(r.TaxItem), Rate: m.num(tax), Description: "Tax"}, kind: kindTax, amount: tax})
	}
	tx.netsuite = tx.shipping
	for _, b := range tx.lines {
		tx.netsuite = tx.netsuite.Add(b.amount)
	}
	if r.Tax == TaxNetSuite {
		// NetSuite computes the tax; the expectation is that it arrives at
		// Commerce's. The writer compares with the real total afterwards.
		tx.netsuite = tx.netsuite.Add(tax)
	}
	return tx
}

func discountLine(r Rules, m money, d decimal.Decimal, label string, orderItem int64) built {
	return built{line: line{Item: refOf(r.DiscountItem), Rate: m.num(d.Neg()), Description: label}, kind: kindDiscount,
		orderItem: orderItem, amount: d.Neg()}
}

func discountLabel(description, coupon string) string {
	switch {
	case description != "" && coupon != "" && !strings.Contains(description, coupon):
		return clip("Discount: " + description + " (" + coupon + ")")
	case description != "":
		return clip("Discount: " + description)
	case coupon != "":
		return clip("Discount (" + coupon + ")")
	}
	return "Discount"
}

func itemLines(tx transaction) *sublist[line] {
	if len(tx.lines) == 0 {
		return nil
	}
	out := make([]line, len(tx.lines))
	for i, b := range tx.lines {
		out[i] = b.line
	}
	return &sublist[line]{Items: out}
}
