// Package catalog is the product catalogue both simulators are seeded with,
// so that a Commerce SKU in a simulated order has a NetSuite item to map to.
package catalog

// Product is one sellable SKU as both systems know it.
type Product struct {
	SKU        string  // Commerce sku = NetSuite itemid
	Name       string  // display name
	Price      float64 // base price in the base currency
	ItemType   string  // NetSuite itemtype: InvtPart, NonInvtPart, Kit, Service
	Stock      int     // on hand at the main location
	NetSuiteID int     // NetSuite internal id of the item
	// Configurable parents: the simple children's SKUs. A Commerce configurable
	// line carries the child's SKU; the parent itself is not a NetSuite item.
	Children []string
}

// Default returns the shared seed catalogue. It returns a fresh slice every
// call so callers may modify it.
func Default() []Product {
	return []Product{
		{SKU: "MS09-M-Red", Name: "Helios Tee M Red", Price: 32, ItemType: "InvtPart", Stock: 40, NetSuiteID: 101},
		{SKU: "MS09-L-Red", Name: "Helios Tee L Red", Price: 32, ItemType: "InvtPart", Stock: 25, NetSuiteID: 102},
		{SKU: "MS09-M-Blue", Name: "Helios Tee M Blue", Price: 32, ItemType: "InvtPart", Stock: 0, NetSuiteID: 103},
		{SKU: "WB04", Name: "Overnight Duffle", Price: 45, ItemType: "InvtPart", Stock: 12, NetSuiteID: 104},
		{SKU: "24-MB01", Name: "Joust Duffle Bag", Price: 34, ItemType: "InvtPart", Stock: 100, NetSuiteID: 105},
		{SKU: "24-WG085", Name: "Sprite Yoga Strap 6 foot", Price: 14, ItemType: "InvtPart", Stock: 300, NetSuiteID: 106},
		{SKU: "24-WG080", Name: "Sprite Foam Yoga Brick", Price: 5, ItemType: "InvtPart", Stock: 500, NetSuiteID: 107},
		{SKU: "24-UG06", Name: "Affirm Water Bottle", Price: 7, ItemType: "InvtPart", Stock: 220, NetSuiteID: 108},
		{SKU: "GC-50", Name: "Gift Card 50", Price: 50, ItemType: "NonInvtPart", NetSuiteID: 109},
		{SKU: "24-WG088", Name: "Sprite Yoga Companion Kit", Price: 77, ItemType: "Kit", NetSuiteID: 110},
		{SKU: "MS09", Name: "Helios Tee (configurable)", Price: 32, ItemType: "", Children: []string{"MS09-M-Red", "MS09-L-Red", "MS09-M-Blue"}},
	}
}

// Shipping and discount items NetSuite needs for order lines.
const (
	ShippingItemID = 201
	DiscountItemID = 202
)
