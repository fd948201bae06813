package mapping

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/commercefact"
	"github.com/ml-connector/ml-connector/pkg/event"
)

// header is what an order and its invoices share: subsidiary, currency
// and buyer, each checked once.
type header struct {
	subsidiary string
	currency   string
	customer   *event.CustomerRef
}

func orderHeader(in Input, o *commercefact.Order, p *problems) header {
	var h header
	store := in.Fact.Store
	if in.OneWorld {
		h.subsidiary = in.Subsidiary
		if h.subsidiary == "" {
			p.add("subsidiary", store, fmt.Sprintf("store %s has no NetSuite subsidiary (netsuite.subsidiaries)", clip(store)))
		}
	}
	switch cur := o.Currency; {
	case cur == "":
		p.add("currency", "", "the order has no currency")
	case len(in.Rules.Currencies) > 0:
		id, ok := in.Rules.Currencies[cur]
		if !ok {
			p.add("currency", cur, fmt.Sprintf("currency %s has no NetSuite currency (mapping currencies)", clip(cur)))
		}
		h.currency = id
	}
	h.customer = buyer(in, o, h.subsidiary, p)
	return h
}

func mapOrder(in Input) (event.NetSuiteCommand, error) {
	f, o, r := in.Fact, in.Fact.Order, in.Rules
	if err := require(f, "order "+clip(o.IncrementID), orderParts()...); err != nil {
		return event.NetSuiteCommand{}, err
	}
	if o.State == "canceled" {
		return event.NetSuiteCommand{}, fmt.Errorf("%w: order %s is canceled in Commerce", ErrSkipped, clip(o.IncrementID))
	}
	p := problems{record: "order " + clip(o.IncrementID)}
	ext, err := event.SalesOrderExternalID(f.Store, o.IncrementID)
	if err != nil {
		p.add("external id", o.IncrementID, err.Error())
	}
	h := orderHeader(in, o, &p)
	if o.BillingAddress == nil {
		p.add("billing address", "", "the billing address is missing")
	}
	shipped := o.ShippingAddress != nil || o.Shipping.Method != ""
	if o.Shipping.Method != "" && o.ShippingAddress == nil {
		p.add("shipping address", "", fmt.Sprintf("the shipping address is missing (shipping method %s)", clip(o.Shipping.Method)))
	}
	m := money{places: Precision(o.Currency)}
	lines := selectLines(o.Lines, r.Bundles)
	if len(lines) == 0 {
		p.add("lines", "", "the order has no lines")
	}
	tx := orderTransaction(in, o, lines, m, &p)
	if err := p.err(); err != nil {
		return event.NetSuiteCommand{}, err
	}
	so := salesOrder{
		ExternalID: ext, Subsidiary: refOf(h.subsidiary), Currency: refOf(h.currency),
		TranDate: o.CreatedAt.In(r.loc).Format("2006-01-02"), OtherRefNum: o.IncrementID,
		Memo: memo("Commerce order "+o.IncrementID, o.CouponCode), OrderStatus: r.OrderStatus,
		Email: o.Customer.Email, Location: refOf(r.Location),
		BillingAddress: addressOf(o.BillingAddress), ShippingAddress: addressOf(o.ShippingAddress),
		Item: itemLines(tx),
	}
	if shipped || !tx.shipping.IsZero() {
		so.ShipMethod = refOf(shipMethod(r, o.Shipping.Method))
		cost := m.num(tx.shipping)
		so.ShippingCost = &cost
	}
	totals := totalsOf(r, m, o.Currency, o.Totals.GrandTotal, tx.netsuite)
	rec, err := encode(so, custom(r, m, totals, o.CouponCode))
	if err != nil {
		return event.NetSuiteCommand{}, err
	}
	return event.NetSuiteCommand{
		Kind: event.KindSalesOrder, Store: f.Store, SourceID: o.IncrementID, ExternalID: ext, Record: rec,
		Subsidiary: h.subsidiary, Customer: h.customer, Totals: totals,
	}, nil
}

// orderTransaction is the order's NetSuite lines and total. An invoice by
// transform numbers its lines from this layout, so it must not depend on
// anything but the order and the rules.
func orderTransaction(in Input, o *commercefact.Order, lines []commercefact.Line, m money, p *problems) transaction {
	srcs := make([]source, len(lines))
	for i, l := range lines {
		srcs[i] = sourceOf(l)
	}
	return build(in.Rules, m, in.Items, srcs, amounts{
		discount: o.Totals.Discount.Abs(), tax: o.Totals.Tax, shipping: o.Totals.Shipping,
		label: discountLabel(o.DiscountDescription, o.CouponCode),
	}, p)
}

func shipMethod(r Rules, method string) string {
	if id, ok := r.ShipMethods[method]; ok && method != "" {
		return id
	}
	return r.DefaultShipMethod
}

func memo(what, coupon string) string {
	if coupon == "" {
		return what
	}
	return what + ", coupon " + clip(coupon)
}

// totalsOf reconciles Commerce's grand total with the NetSuite total.
func totalsOf(r Rules, m money, currency string, commerceTotal, netsuiteTotal decimal.Decimal) *event.Totals {
	ct := m.round(commerceTotal)
	v := netsuiteTotal.Sub(ct)
	return &event.Totals{
		Currency: currency, CommerceTotal: ct, NetSuiteTotal: netsuiteTotal, Variance: v,
		OverTolerance: v.Abs().GreaterThan(r.tolerance),
	}
}

// custom are the transaction body custom fields the settings ask for.
func custom(r Rules, m money, t *event.Totals, coupon string) map[string]any {
	c := map[string]any{}
	if r.VarianceField != "" && t != nil {
		c[r.VarianceField] = m.num(t.Variance)
	}
	if r.CouponField != "" && coupon != "" {
		c[r.CouponField] = clipN(coupon, 255)
	}
	return c
}

// addressOf is a NetSuite address subrecord: the company (when there is
// one) is the addressee and the person the attention; street lines beyond
// the third are joined into addr3.
func addressOf(a *commercefact.Address) *address {
	if a == nil {
		return nil
	}
	name := strings.TrimSpace(strings.TrimSpace(a.Firstname) + " " + strings.TrimSpace(a.Lastname))
	out := &address{Addressee: name, City: strings.TrimSpace(a.City), Zip: strings.TrimSpace(a.Postcode),
		AddrPhone: strings.TrimSpace(a.Telephone)}
	if c := strings.TrimSpace(a.Company); c != "" {
		out.Addressee, out.Attention = c, name
	}
	var street []string
	for _, s := range a.Street {
		if s = strings.TrimSpace(s); s != "" {
			street = append(street, s)
		}
	}
	for i, s := range street {
		switch i {
		case 0:
			out.Addr1 = s
		case 1:
			out.Addr2 = s
		default:
			if out.Addr3 != "" {
				s = out.Addr3 + ", " + s
			}
			out.Addr3 = s
		}
	}
	out.State = strings.TrimSpace(a.RegionCode)
	if out.State == "" {
		out.State = strings.TrimSpace(a.Region)
	}
	if c := strings.ToUpper(strings.TrimSpace(a.CountryID)); c != "" {
		out.Country = &ref{ID: c}
	}
	return out
}

// jsonNum is a literal JSON number.
func jsonNum(s string) *json.Number { n := json.Number(s); return &n }
