package stock

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/netsuite"
)

// The SuiteQL queries whose rows the parsers below read (ref §8-9). Each
// ends with the keyset condition on its first column; stock and price rows
// are not unique per item, so the reader pages them by whole items.
const (
	ItemQuery  = "SELECT id, itemid, upccode, externalid, itemtype, isinactive FROM item WHERE id > ? ORDER BY id"
	LevelQuery = "SELECT a.item, a.location, a.quantityavailable, a.quantityonhand FROM aggregateItemLocation a WHERE a.item > ? ORDER BY a.item, a.location"
	// PriceQuery binds the price level and the currency before the cursor.
	PriceQuery    = "SELECT p.item, p.unitprice, p.quantity FROM pricing p WHERE p.pricelevel = ? AND p.currency = ? AND p.item > ? ORDER BY p.item, p.quantity"
	CurrencyQuery = "SELECT id, name, symbol FROM currency WHERE id > ? ORDER BY id"
)

// ParseItem reads a row of ItemQuery.
func ParseItem(r netsuite.Row) (Item, error) {
	it := Item{ID: r.String("id"), ItemID: r.String("itemid"), UPC: r.String("upccode"),
		ExternalID: r.String("externalid"), Type: r.String("itemtype")}
	if it.ID == "" {
		return Item{}, fmt.Errorf("item row without id")
	}
	inactive, err := r.Bool("isinactive")
	if err != nil {
		return Item{}, fmt.Errorf("item %s: %w", it.ID, err)
	}
	it.Inactive = inactive
	return it, nil
}

// ParseLevel reads a row of LevelQuery: the item id and its level at one
// location. A null quantity is 0.
func ParseLevel(r netsuite.Row) (string, Level, error) {
	item, loc := r.String("item"), r.String("location")
	if item == "" || loc == "" {
		return "", Level{}, fmt.Errorf("stock row without item or location")
	}
	l := Level{Location: loc}
	var err error
	if l.Available, err = optDecimal(r, "quantityavailable"); err != nil {
		return "", Level{}, fmt.Errorf("item %s location %s: %w", item, loc, err)
	}
	if l.OnHand, err = optDecimal(r, "quantityonhand"); err != nil {
		return "", Level{}, fmt.Errorf("item %s location %s: %w", item, loc, err)
	}
	return item, l, nil
}

// Tier is one price row: the unit price from a minimum quantity on.
type Tier struct {
	Price    decimal.Decimal
	Quantity decimal.Decimal // minimum quantity of the tier; null is 0
}

// ParsePrice reads a row of PriceQuery. A price that is null or negative
// is an error (Commerce refuses negative prices).
func ParsePrice(r netsuite.Row) (string, Tier, error) {
	item := r.String("item")
	if item == "" {
		return "", Tier{}, fmt.Errorf("price row without item")
	}
	p, err := r.Decimal("unitprice")
	if err != nil {
		return "", Tier{}, fmt.Errorf("item %s: %w", item, err)
	}
	if p.IsNegative() {
		return "", Tier{}, fmt.Errorf("item %s: negative price %s", item, p)
	}
	q, err := optDecimal(r, "quantity")
	if err != nil {
		return "", Tier{}, fmt.Errorf("item %s: %w", item, err)
	}
	return item, Tier{Price: p, Quantity: q}, nil
}

// Lowest is the price of the lowest quantity tier (ref §9), nil for none.
func Lowest(tiers []Tier) *decimal.Decimal {
	var best *Tier
	for i := range tiers {
		if best == nil || tiers[i].Quantity.LessThan(best.Quantity) {
			best = &tiers[i]
		}
	}
	if best == nil {
		return nil
	}
	p := best.Price
	return &p
}

func optDecimal(r netsuite.Row, col string) (decimal.Decimal, error) {
	if !r.Has(col) || r.String(col) == "" {
		return decimal.Zero, nil
	}
	return r.Decimal(col)
}
