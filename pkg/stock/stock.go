// Package stock is inventory-publisher's pure logic, without I/O: NetSuite
// SuiteQL rows to items, stock levels and prices; an item's Commerce state
// in one store (price, quantity per MSI source after the safety buffer,
// in-stock flag); and the diff against the last published state.
//
// Decisions it encodes (README, "inventory-publisher"):
//
//   - The SKU is one NetSuite field (itemid, upccode or externalid), trimmed.
//     A matrix child's itemid "parent : child" gives "child". A SKU with
//     control characters or invalid UTF-8, or over MaxSKULen bytes, is
//     refused (it could not travel in a NATS header).
//   - Stock is published only for item types NetSuite tracks (InvtPart,
//     Assembly). Kits have no stock of their own, non-inventory, service and
//     gift-certificate items none at all: they get prices only. Item groups
//     have neither (a group is exploded into its members on an order); they
//     are in the item map only. Other types (shipping, discount, ...) are
//     not storefront products and are ignored.
//   - Quantities: the basis column per location (quantityavailable by
//     default), a negative location counted as 0, locations summed into
//     their MSI source, the buffer subtracted per source, never below 0;
//     in stock when the result is positive.
//   - A price is published only when NetSuite has one for the level and
//     currency (the lowest quantity tier); a missing price is never
//     "published" as a removal.
package stock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// SKU fields (the "sku_field" setting).
const (
	FieldItemID     = "itemid"
	FieldUPC        = "upccode"
	FieldExternalID = "externalid"
)

// Stock bases (the "stock_basis" setting).
const (
	// BasisAvailable sells NetSuite's quantityavailable: on hand minus
	// committed sales orders. A storefront order synced to NetSuite is then
	// subtracted twice until it ships (once in NetSuite's commitment, once
	// in Commerce's reservation): the storefront can undersell, never
	// oversell. Safe with other sales channels.
	BasisAvailable = "available"
	// BasisOnHand sells quantityonhand and leaves the storefront's own
	// unshipped orders to Commerce's reservations, so each is counted once.
	// Orders of other channels committed in NetSuite are not subtracted:
	// only for a storefront that is the only (or by far the main) channel,
	// with a buffer covering the rest.
	BasisOnHand = "onhand"
)

// MaxSKULen bounds a SKU in bytes (Commerce allows 64 characters; the bound
// only keeps message ids and headers sane).
const MaxSKULen = 512

// ErrBadSKU: the SKU field's value cannot be a Commerce SKU.
var ErrBadSKU = errors.New("unusable SKU")

// Item is a row of NetSuite's item table.
type Item struct {
	ID         string // internal id
	ItemID     string // "Item Name/Number"
	UPC        string
	ExternalID string
	Type       string // itemtype
	Inactive   bool
}

// SKU returns the value of the configured SKU field, checked.
func (it Item) SKU(field string) (string, error) {
	var v string
	switch field {
	case FieldUPC:
		v = it.UPC
	case FieldExternalID:
		v = it.ExternalID
	default:
		v = it.ItemID
		// A matrix child's name can come as "parent : child" (ref §9).
		if i := strings.LastIndex(v, " : "); i >= 0 {
			v = v[i+3:]
		}
	}
	v = strings.TrimSpace(v)
	if err := CheckSKU(v); err != nil {
		return "", fmt.Errorf("item %s %s %q: %w", it.ID, field, v, err)
	}
	return v, nil
}

// CheckSKU reports why s cannot be a SKU, nil when it can.
func CheckSKU(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrBadSKU)
	case len(s) > MaxSKULen:
		return fmt.Errorf("%w: %d bytes, over %d", ErrBadSKU, len(s), MaxSKULen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: not UTF-8", ErrBadSKU)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%w: control character %U", ErrBadSKU, r)
		}
	}
	return nil
}

// Stocked reports whether NetSuite tracks stock for items of type t.
func Stocked(t string) bool { return t == "InvtPart" || t == "Assembly" }

// Priced reports whether items of type t are storefront products with a
// price of their own.
func Priced(t string) bool {
	switch t {
	case "InvtPart", "Assembly", "Kit", "NonInvtPart", "Service", "GiftCert":
		return true
	}
	return false
}

// Mapped reports whether items of type t belong in the item map (they can
// be order lines for a storefront product).
func Mapped(t string) bool { return Priced(t) || t == "Group" }

// Problem is an item the run skipped, for the summary and the log.
type Problem struct {
	ItemID string // NetSuite internal id
	SKU    string
	Reason string
}

// BySKU indexes the mapped items by SKU. When several items share a SKU an
// active one wins over an inactive one, then the lowest internal id; the
// others are reported. Items without a usable SKU are reported too.
func BySKU(items []Item, field string) (map[string]Item, []Problem) {
	out := make(map[string]Item, len(items))
	var problems []Problem
	for _, it := range items {
		if !Mapped(it.Type) {
			continue
		}
		sku, err := it.SKU(field)
		if err != nil {
			problems = append(problems, Problem{ItemID: it.ID, Reason: err.Error()})
			continue
		}
		prev, dup := out[sku]
		if !dup {
			out[sku] = it
			continue
		}
		keep, drop := prev, it
		if (prev.Inactive && !it.Inactive) || (prev.Inactive == it.Inactive && lessID(it.ID, prev.ID)) {
			keep, drop = it, prev
		}
		out[sku] = keep
		problems = append(problems, Problem{ItemID: drop.ID, SKU: sku,
			Reason: fmt.Sprintf("SKU %q is also item %s, which is used", sku, keep.ID)})
	}
	return out, problems
}

// lessID orders NetSuite ids numerically (shorter is smaller), then lexically.
func lessID(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// Level is one item's stock at one NetSuite location.
type Level struct {
	Location  string
	Available decimal.Decimal // quantityavailable
	OnHand    decimal.Decimal // quantityonhand
}

// Rules turn an item's levels into Commerce MSI source quantities for one store.
type Rules struct {
	// Sources maps a NetSuite location id to an MSI source code; several
	// locations may share a source. Empty: every location into Default.
	// Locations not in a non-empty map are ignored.
	Sources map[string]string
	// Default is the single source of a shop without a mapping ("default").
	Default string
	// Buffer is subtracted from each source's quantity.
	Buffer decimal.Decimal
	// Basis is BasisAvailable or BasisOnHand.
	Basis string
}

// Codes lists the source codes the rules publish, sorted.
func (r Rules) Codes() []string {
	if len(r.Sources) == 0 {
		return []string{r.Default}
	}
	var codes []string
	for _, c := range r.Sources {
		if !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	slices.Sort(codes)
	return codes
}

// Quantities computes the source quantities of one stocked item. Every
// source of the rules appears, so stock that left a location is published
// as 0. codes is r.Codes() (passed in so a run computes it once).
func (r Rules) Quantities(levels []Level, codes []string) []event.SourceQuantity {
	sums := make([]decimal.Decimal, len(codes))
	for _, l := range levels {
		code := r.Default
		if len(r.Sources) > 0 {
			var ok bool
			if code, ok = r.Sources[l.Location]; !ok {
				continue
			}
		}
		q := l.Available
		if r.Basis == BasisOnHand {
			q = l.OnHand
		}
		if !q.IsPositive() {
			continue // an over-committed location does not take from the others
		}
		i, _ := slices.BinarySearch(codes, code)
		sums[i] = sums[i].Add(q)
	}
	out := make([]event.SourceQuantity, len(codes))
	for i, c := range codes {
		q := sums[i].Sub(r.Buffer)
		if q.IsNegative() {
			q = decimal.Zero
		}
		out[i] = event.SourceQuantity{SourceCode: c, Quantity: q, InStock: q.IsPositive()}
	}
	return out
}

// State is what is (to be) published for one SKU in one store.
type State struct {
	ItemID   string                 `json:"item_id"`
	Price    *decimal.Decimal       `json:"price,omitempty"`
	Currency string                 `json:"currency,omitempty"`
	Sources  []event.SourceQuantity `json:"sources,omitempty"` // sorted by code; nil when stock is not published
}

// Compute is an item's state: price when known and the type is priced,
// sources when the type is stocked.
func Compute(it Item, levels []Level, price *decimal.Decimal, currency string, r Rules, codes []string) State {
	s := State{ItemID: it.ID}
	if price != nil && Priced(it.Type) {
		s.Price, s.Currency = price, currency
	}
	if Stocked(it.Type) {
		s.Sources = r.Quantities(levels, codes)
	}
	return s
}

// Change says which parts of a state differ from the published one.
type Change struct {
	Price, Stock bool
}

// Any reports whether anything is to be published.
func (c Change) Any() bool { return c.Price || c.Stock }

// Diff compares the new state cur with the published prev (known false
// when the SKU was never published). A part cur does not carry (no price,
// no stock) is never a change: Commerce keeps what it has.
func Diff(prev State, known bool, cur State) Change {
	var c Change
	if cur.Price != nil {
		c.Price = !known || prev.Price == nil || !prev.Price.Equal(*cur.Price) || prev.Currency != cur.Currency
	}
	if cur.Sources != nil {
		c.Stock = !known || !SameSources(prev.Sources, cur.Sources)
	}
	return c
}

// SameSources compares two sorted source lists.
func SameSources(a, b []event.SourceQuantity) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].SourceCode != b[i].SourceCode || a[i].InStock != b[i].InStock || !a[i].Quantity.Equal(b[i].Quantity) {
			return false
		}
	}
	return true
}

// Apply is prev with the changed parts of cur: the state once the change
// is published.
func Apply(prev State, cur State, c Change) State {
	next := prev
	next.ItemID = cur.ItemID
	if c.Price {
		next.Price, next.Currency = cur.Price, cur.Currency
	}
	if c.Stock {
		next.Sources = cur.Sources
	}
	return next
}

// Gone is the state to publish for a SKU that was published but is no
// longer an active NetSuite item (inactive or deleted): every source at 0,
// out of stock. Its price is left alone. ok is false when nothing needs
// publishing (no stock was published, or it already is all zero).
func Gone(prev State) (State, Change, bool) {
	if prev.Sources == nil {
		return prev, Change{}, false
	}
	zero := make([]event.SourceQuantity, len(prev.Sources))
	changed := false
	for i, s := range prev.Sources {
		zero[i] = event.SourceQuantity{SourceCode: s.SourceCode, Quantity: decimal.Zero}
		changed = changed || s.InStock || !s.Quantity.IsZero()
	}
	next := prev
	next.Sources = zero
	return next, Change{Stock: true}, changed
}

// Fingerprint identifies a published state (the change's Base); "" for a
// SKU never published.
func Fingerprint(s State, known bool) string {
	if !known {
		return ""
	}
	var b strings.Builder
	if s.Price != nil {
		b.WriteString(s.Price.String() + " " + s.Currency)
	}
	b.WriteByte('|')
	for _, q := range s.Sources {
		fmt.Fprintf(&b, "%d:%s=%s/%t;", len(q.SourceCode), q.SourceCode, q.Quantity.String(), q.InStock)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}
