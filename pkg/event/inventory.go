package event

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// InventoryChange is a price or stock change of one SKU in one Commerce
// store scope, found by inventory-publisher's diff against the last
// published snapshot (INVENTORY stream, inventory.item.changed). Its
// Commerce side writes it with source-items and base-prices.
type InventoryChange struct {
	// Store is the Commerce store code whose scope the price applies to.
	Store string `json:"store"`
	// SKU is the Commerce product SKU.
	SKU string `json:"sku"`
	// ItemID is the NetSuite item's internal id.
	ItemID string `json:"item_id"`
	// Price is the new base price, nil when the price did not change (or is
	// not synced).
	Price *decimal.Decimal `json:"price,omitempty"`
	// Currency is the price's currency code.
	Currency string `json:"currency,omitempty"`
	// Sources are the new quantities per MSI source, nil when stock did not
	// change. Quantities are never negative.
	Sources []SourceQuantity `json:"sources,omitempty"`
	// Base fingerprints the published values the change was diffed
	// against ("" for a SKU never published before). It is part of MsgID:
	// a re-run from the same snapshot repeats the id (and JetStream drops
	// it), while a value that goes A -> B -> A inside the duplicate window
	// is published again instead of being taken for the first A.
	Base string `json:"base,omitempty"`
	// ObservedAt is when NetSuite was read. It is not part of the message id.
	ObservedAt time.Time `json:"observed_at"`
}

// SourceQuantity is the salable quantity of a SKU at one MSI source.
type SourceQuantity struct {
	// SourceCode is the Commerce MSI source code ("default" without MSI).
	SourceCode string `json:"source_code"`
	// Quantity is what Commerce may sell (after the safety buffer), >= 0.
	Quantity decimal.Decimal `json:"quantity"`
	// InStock is the stock status to set.
	InStock bool `json:"in_stock"`
}

func (c InventoryChange) Subject() string { return InventorySubject() }

// MsgID is inventory:<store>:<sku>:<hash of the new values and Base>, so a
// re-run that finds the same values publishes nothing new.
func (c InventoryChange) MsgID() string {
	return "inventory:" + SubjectToken(c.Store) + ":" + c.SKU + ":" + c.valuesHash()
}

func (c InventoryChange) valuesHash() string {
	var price, stock strings.Builder
	if c.Price != nil {
		price.WriteString(c.Price.String() + " " + c.Currency)
	}
	srcs := append([]SourceQuantity(nil), c.Sources...)
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].SourceCode < srcs[j].SourceCode })
	for _, s := range srcs {
		fmt.Fprintf(&stock, "%d:%s=%s/%t;", len(s.SourceCode), s.SourceCode, s.Quantity.String(), s.InStock)
	}
	if c.Base == "" {
		return hash16([]byte(c.SKU), []byte(price.String()), []byte(stock.String()))
	}
	return hash16([]byte(c.SKU), []byte(price.String()), []byte(stock.String()), []byte(c.Base))
}

func (c InventoryChange) Key() string    { return Key(EntityItem, c.Store, c.SKU) }
func (c InventoryChange) Type() string   { return InventorySubject() }
func (c InventoryChange) Source() string { return ServiceSource("inventory-publisher") }
func (c InventoryChange) Schema() string { return "" }
func (c InventoryChange) Data() ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return jsonData(c)
}

func (c InventoryChange) validate() error {
	switch {
	case c.SKU == "":
		return fmt.Errorf("%w: inventory change without a SKU", ErrInvalidMessage)
	case c.Price == nil && c.Sources == nil:
		return fmt.Errorf("%w: inventory change of %s changes neither price nor stock", ErrInvalidMessage, c.SKU)
	case c.Price != nil && c.Price.IsNegative():
		return fmt.Errorf("%w: inventory change of %s: negative price %s", ErrInvalidMessage, c.SKU, c.Price)
	}
	for _, s := range c.Sources {
		if s.Quantity.IsNegative() {
			return fmt.Errorf("%w: inventory change of %s: negative quantity %s at source %q", ErrInvalidMessage, c.SKU, s.Quantity, s.SourceCode)
		}
	}
	return nil
}

// DecodeInventoryChange reads an INVENTORY message body.
func DecodeInventoryChange(body []byte) (InventoryChange, Envelope, error) {
	c, env, err := decodeData[InventoryChange](body, func(t string) bool { return t == InventorySubject() })
	if err != nil {
		return c, env, err
	}
	return c, env, c.validate()
}
