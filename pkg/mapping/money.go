package mapping

import (
	"encoding/json"

	"github.com/shopspring/decimal"
)

// The rounding rule (one rule for every amount, so that the expected
// NetSuite total is what NetSuite computes):
//
//   - Money is decimal, never float. Every Commerce amount is first rounded
//     to the currency's precision (Precision), half away from zero as PHP's
//     round() and NetSuite do.
//   - Totals are line-rounded: a NetSuite line's amount is
//     round(quantity × rate) and the order total is the sum of the rounded
//     line amounts plus the shipping cost (plus the tax, below). Commerce's
//     default tax calculation ("Row Total") rounds per row as well.
//   - A line's rate is the Commerce unit price when round(qty × price)
//     equals the amount the line must have (its row total, net of its
//     discount in DiscountNet mode); otherwise (a discount that does not
//     divide by the quantity, tax-inclusive catalogue prices whose
//     tax-exclusive price has more digits than the currency) the rate is
//     amount ÷ qty rounded to RateDigits places, which brings the line
//     amount back to the cent for any realistic quantity. What is left is
//     reported as variance, never hidden.
//   - Discount and tax lines carry a rate and no quantity: their amount is
//     the rate.

// RateDigits is how many decimal places a computed rate keeps.
const RateDigits = 8

// Precision is the number of decimal places of a currency's minor unit
// (ISO 4217); 2 unless listed.
func Precision(currency string) int32 {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	case "CLF", "UYW":
		return 4
	}
	return 2
}

// money is an amount in one currency's precision.
type money struct{ places int32 }

func (m money) round(d decimal.Decimal) decimal.Decimal { return d.Round(m.places) }

// num renders an amount with exactly the currency's decimal places.
func (m money) num(d decimal.Decimal) json.Number { return json.Number(d.StringFixed(m.places)) }

// rateNum renders a rate: the currency's places at least, more only when
// the rate has them (computed rates), trailing zeros beyond dropped.
func (m money) rateNum(d decimal.Decimal) json.Number {
	if d.Round(m.places).Equal(d) {
		return m.num(d)
	}
	return json.Number(d.String())
}

// lineAmount is what NetSuite computes for a line: round(qty × rate).
func (m money) lineAmount(qty, rate decimal.Decimal) decimal.Decimal {
	return m.round(qty.Mul(rate))
}

// rateFor picks a line's rate so that round(qty × rate) is amount: the
// unit price when it already does, else amount ÷ qty to RateDigits places.
func (m money) rateFor(price, qty, amount decimal.Decimal) decimal.Decimal {
	if qty.IsZero() {
		return m.round(price)
	}
	if p := m.round(price); m.lineAmount(qty, p).Equal(amount) {
		return p
	}
	if m.lineAmount(qty, price).Equal(amount) && price.Exponent() >= -RateDigits {
		return price
	}
	return amount.DivRound(qty, RateDigits)
}

func qtyNum(q decimal.Decimal) json.Number { return json.Number(q.String()) }
