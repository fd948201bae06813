package mapping

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ml-connector/ml-connector/pkg/commercefact"
	"github.com/ml-connector/ml-connector/pkg/event"
)

// Items resolves a Commerce SKU to a NetSuite item internal id (the
// mlc_item_map bucket, which inventory-publisher keeps current).
type Items interface {
	ItemID(sku string) (id string, ok bool)
}

// InactiveItems is implemented by an Items that knows SKUs whose NetSuite
// item exists but is inactive, so the reason names it.
type InactiveItems interface {
	InactiveItem(sku string) (id string, ok bool)
}

// ItemMap is Items over a map of SKU -> item id.
type ItemMap map[string]string

// ItemID returns the SKU's item id; ok is false for an unknown SKU.
func (m ItemMap) ItemID(sku string) (string, bool) {
	id, ok := m[sku]
	return id, ok && id != ""
}

// Input is one fact and everything its mapping depends on. Map reads
// nothing else (no clock, no I/O), so the same Input always gives the same
// command, byte for byte.
type Input struct {
	// Fact is the canonical Commerce fact, completed through REST.
	Fact commercefact.Fact
	// Order is the order of an invoice fact (its buyer, addresses and
	// lines); ignored for other kinds.
	Order *commercefact.Order
	// Rules are the store's resolved settings.
	Rules Rules
	// OneWorld says the account has subsidiaries; then Subsidiary (from
	// netsuite.subsidiaries for the fact's store and website) must be set.
	OneWorld   bool
	Subsidiary string
	// Items maps SKUs to NetSuite items.
	Items Items
}

// Map turns a fact into the NetSuite command for it: a sales order for an
// order, an invoice for a captured invoice, a customer for a new customer.
// Errors match ErrUnmappable (with an *UnmappableError), ErrIncomplete or
// ErrSkipped; Map never panics.
func Map(in Input) (event.NetSuiteCommand, error) {
	if in.Items == nil {
		in.Items = ItemMap(nil)
	}
	if in.Rules.loc == nil {
		in.Rules = DefaultRules()
	}
	f := in.Fact
	if f.Store == "" {
		return event.NetSuiteCommand{}, fmt.Errorf("%w: fact %s has no store", ErrIncomplete, clip(f.Key()))
	}
	switch {
	case f.Kind == event.OrderPlaced && f.Order != nil:
		return mapOrder(in)
	case f.Kind == event.InvoiceCaptured && f.Invoice != nil:
		return mapInvoice(in)
	case f.Kind == event.CustomerCreated && f.Customer != nil:
		return mapCustomer(in)
	}
	return event.NetSuiteCommand{}, fmt.Errorf("%w: fact of kind %q holds no matching record", ErrIncomplete, clip(f.Kind))
}

// require reports the parts of f that the mapping uses and f lacks.
func require(f commercefact.Fact, what string, parts ...commercefact.Part) error {
	var miss []string
	for _, p := range parts {
		if f.Lacks(p) {
			miss = append(miss, string(p))
		}
	}
	if len(miss) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s lacks %s", ErrIncomplete, what, strings.Join(miss, ", "))
}

// orderParts are the parts of an order the mapping reads.
func orderParts() []commercefact.Part {
	return []commercefact.Part{
		commercefact.PartTimestamps, commercefact.PartState, commercefact.PartCurrency, commercefact.PartCustomer,
		commercefact.PartLines, commercefact.PartLineIDs, commercefact.PartLineParents, commercefact.PartLineAmounts,
		commercefact.PartBillingAddress, commercefact.PartShippingAddress, commercefact.PartRegionCode,
		commercefact.PartShipping, commercefact.PartTotals, commercefact.PartCoupon,
	}
}

// clip bounds a Commerce value quoted in a memo or an error.
func clip(s string) string { return clipN(s, 80) }

func clipN(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
