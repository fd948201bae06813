package netsuitesim

import (
	"sort"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/sim/catalog"
)

// Item is a NetSuite item of any kind (the SuiteQL item table).
type Item struct {
	ID           string
	ItemID       string // "Item Name/Number", usually the storefront SKU
	DisplayName  string
	Type         string // itemtype: InvtPart, NonInvtPart, Kit, Assembly, Group, Service, OthCharge, Discount
	UPC          string
	ExternalID   string
	Inactive     bool
	Subsidiaries []string // OneWorld: subsidiaries the item is available to; empty = all
}

// Record is a snapshot of a stored record.
type Record struct {
	ID         string         `json:"id"`
	ExternalID string         `json:"externalId,omitempty"`
	Type       string         `json:"type"`
	Fields     map[string]any `json:"fields"` // body fields as stored, refs as {"id":..}, lines under item.items
}

type named struct {
	ID, Name     string
	Subsidiaries []string // locations: subsidiaries they belong to; empty = all
	// subsidiaries only
	Parent, Currency, Country string
}

type priceRow struct {
	Item, PriceLevel, Currency string
	Quantity                   int
	Price                      decimal.Decimal
}

type stockRow struct {
	Item, Location                                     string
	OnHand, Available, Committed, OnOrder, BackOrdered int
}

// itemRecordTypes maps SuiteQL itemtype to the Record API type segment.
var itemRecordTypes = map[string]string{
	"InvtPart":    "inventoryItem",
	"NonInvtPart": "nonInventorySaleItem",
	"Kit":         "kitItem",
	"Assembly":    "assemblyItem",
	"Group":       "itemGroup",
	"Service":     "serviceSaleItem",
	"OthCharge":   "otherChargeSaleItem",
	"Discount":    "discountItem",
}

// store holds the account's data. It is guarded by Server.mu.
type store struct {
	subsidiaries map[string]*named
	locations    map[string]*named
	currencies   map[string]*named
	priceLevels  map[string]*named
	items        map[string]*Item
	prices       []priceRow
	priceIdx     map[string]int       // item|level|currency -> index in prices
	stock        map[string]*stockRow // item + "/" + location
	// versions count changes to items, prices and stock; tables caches
	// the SuiteQL rows of those tables as materialised at a version, so a
	// keyset walk over a large catalogue does not rebuild them per page,
	// and keysets the filtered, ordered rows of keyset queries
	// (keysetRowsLocked).
	versions map[string]int
	tables   map[string]cachedTable
	keysets  map[string]cachedTable
	records  map[string]map[string]*Record
	byExt    map[string]map[string]*Record // record type -> externalId -> record
	ql       map[string]*qlTable           // customer and transaction (index.go)
	nextID   map[string]int                // id space -> next id
	tranSeq  map[string]int                // record type -> next tranId
	dupExt   []string
}

func newStore() *store {
	return &store{
		subsidiaries: map[string]*named{},
		locations:    map[string]*named{},
		currencies:   map[string]*named{},
		priceLevels:  map[string]*named{},
		items:        map[string]*Item{},
		priceIdx:     map[string]int{},
		stock:        map[string]*stockRow{},
		tables:       map[string]cachedTable{},
		versions:     map[string]int{},
		keysets:      map[string]cachedTable{},
		records:      map[string]map[string]*Record{"customer": {}, "salesOrder": {}, "invoice": {}},
		byExt:        map[string]map[string]*Record{"customer": {}, "salesOrder": {}, "invoice": {}},
		ql:           map[string]*qlTable{"customer": newQLTable(), "transaction": newQLTable()},
		nextID:       map[string]int{"entity": 1000, "transaction": 5000},
		tranSeq:      map[string]int{"salesOrder": 1, "invoice": 1},
	}
}

func (d *store) seedDefault() {
	d.subsidiaries["1"] = &named{ID: "1", Name: "Parent Company", Currency: "1", Country: "US"}
	d.subsidiaries["2"] = &named{ID: "2", Name: "US Store", Parent: "1", Currency: "1", Country: "US"}
	d.subsidiaries["3"] = &named{ID: "3", Name: "UK Store", Parent: "1", Currency: "2", Country: "GB"}
	d.locations["1"] = &named{ID: "1", Name: "Main Warehouse", Subsidiaries: []string{"1", "2"}}
	d.locations["2"] = &named{ID: "2", Name: "UK Warehouse", Subsidiaries: []string{"3"}}
	d.currencies["1"] = &named{ID: "1", Name: "USD"}
	d.currencies["2"] = &named{ID: "2", Name: "GBP"}
	d.priceLevels["1"] = &named{ID: "1", Name: "Base Price"}
	for _, p := range catalog.Default() {
		if p.NetSuiteID == 0 {
			continue
		}
		id := strconv.Itoa(p.NetSuiteID)
		d.items[id] = &Item{ID: id, ItemID: p.SKU, DisplayName: p.Name, Type: p.ItemType}
		d.setPrice(id, "1", "1", decimal.NewFromFloat(p.Price))
		if p.ItemType == "InvtPart" {
			d.setStock(id, "1", p.Stock, p.Stock)
		}
	}
	ship := strconv.Itoa(catalog.ShippingItemID)
	d.items[ship] = &Item{ID: ship, ItemID: "Shipping", DisplayName: "Shipping", Type: "OthCharge"}
	disc := strconv.Itoa(catalog.DiscountItemID)
	d.items[disc] = &Item{ID: disc, ItemID: "Discount", DisplayName: "Discount", Type: "Discount"}
}

// cachedTable is a table's (or a query's) SuiteQL rows at a version.
type cachedTable struct {
	version int
	rows    []map[string]string
}

// version is what a table's rows depend on: stock rows also on the items
// (their types and existence).
func (d *store) version(table string) int {
	switch table {
	case "item":
		return d.versions["item"]
	case "pricing":
		return d.versions["pricing"]
	}
	return d.versions["item"] + d.versions["stock"]
}

func (d *store) setPrice(item, level, currency string, price decimal.Decimal) {
	d.versions["pricing"]++
	key := item + "|" + level + "|" + currency
	if i, ok := d.priceIdx[key]; ok {
		d.prices[i].Price = price
		return
	}
	d.priceIdx[key] = len(d.prices)
	d.prices = append(d.prices, priceRow{Item: item, PriceLevel: level, Currency: currency, Price: price})
}

func (d *store) setStock(item, location string, onHand, available int) {
	d.versions["stock"]++
	committed := max(onHand-available, 0)
	d.stock[item+"/"+location] = &stockRow{Item: item, Location: location, OnHand: onHand, Available: available, Committed: committed}
}

func (d *store) allocID(space string) string {
	id := d.nextID[space]
	d.nextID[space] = id + 1
	return strconv.Itoa(id)
}

// AddSubsidiary adds or renames a subsidiary. A new subsidiary other than
// "1" is a child of "1" with currency "1" (USD).
func (s *Server) AddSubsidiary(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.db.subsidiaries[id]; old != nil {
		old.Name = name
		return
	}
	n := &named{ID: id, Name: name, Currency: "1", Country: "US"}
	if id != "1" {
		n.Parent = "1"
	}
	s.db.subsidiaries[id] = n
}

// AddLocation adds a location belonging to the given subsidiaries (none = all).
func (s *Server) AddLocation(id, name string, subsidiaries ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db.locations[id] = &named{ID: id, Name: name, Subsidiaries: subsidiaries}
}

// AddCurrency adds a currency.
func (s *Server) AddCurrency(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db.currencies[id] = &named{ID: id, Name: name}
}

// AddPriceLevel adds or renames a price level (the SuiteQL pricelevel table).
func (s *Server) AddPriceLevel(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db.priceLevels[id] = &named{ID: id, Name: name}
}

// AddItem adds or replaces an item. Type defaults to InvtPart.
func (s *Server) AddItem(it Item) {
	if it.Type == "" {
		it.Type = "InvtPart"
	}
	it.Subsidiaries = append([]string(nil), it.Subsidiaries...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db.items[it.ID] = &it
	s.db.versions["item"]++
}

// Items returns all items ordered by numeric id.
func (s *Server) Items() []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Item, 0, len(s.db.items))
	for _, it := range s.db.items {
		c := *it
		c.Subsidiaries = append([]string(nil), it.Subsidiaries...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return lessID(out[i].ID, out[j].ID) })
	return out
}

// SetPrice sets the base-quantity price of an item at a price level in a currency.
func (s *Server) SetPrice(itemID, priceLevel, currency string, price decimal.Decimal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db.setPrice(itemID, priceLevel, currency, price)
}

// SetStock sets on-hand and available quantities of an item at a location;
// the difference is reported as committed.
func (s *Server) SetStock(itemID, locationID string, onHand, available int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db.setStock(itemID, locationID, onHand, available)
}

// lessID orders numeric ids numerically and anything else lexically after them.
func lessID(a, b string) bool {
	ai, errA := strconv.Atoi(a)
	bi, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return ai < bi
	case errA == nil:
		return true
	case errB == nil:
		return false
	}
	return a < b
}

func availableTo(list []string, subsidiary string) bool {
	if len(list) == 0 || subsidiary == "" {
		return true
	}
	return contains(list, subsidiary)
}
