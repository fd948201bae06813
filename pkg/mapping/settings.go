package mapping

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// SettingsKey is the mlc_settings key of the mapping settings every store
// starts from; StoreKey(store) holds one store's overrides.
const SettingsKey = "mapping"

const storeKeyPrefix = SettingsKey + "."

// StoreKeys is the KV pattern of every store's overrides.
const StoreKeys = storeKeyPrefix + "*"

// StoreKey is the mlc_settings key of a store's overrides, mapping.<store>
// with the store code made KV-safe by event.EncodeIDPart (so "en_us" is
// mapping.en__us and "us.east" mapping.us_2Eeast).
func StoreKey(store string) string { return storeKeyPrefix + event.EncodeIDPart(store) }

// StoreFromKey inverts StoreKey; ok is false for any other key, including
// a non-canonical encoding (two keys never name the same store).
func StoreFromKey(key string) (string, bool) {
	enc, ok := strings.CutPrefix(key, storeKeyPrefix)
	if !ok || enc == "" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if c != '_' {
			b.WriteByte(c)
			continue
		}
		switch {
		case i+1 < len(enc) && enc[i+1] == '_':
			b.WriteByte('_')
			i++
		case i+2 < len(enc):
			v, err := strconv.ParseUint(enc[i+1:i+3], 16, 8)
			if err != nil {
				return "", false
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			return "", false
		}
	}
	store := b.String()
	if StoreKey(store) != key {
		return "", false
	}
	return store, true
}

// Discount modes.
const (
	// DiscountNet sends discounted line rates: each line's amount is its
	// row total minus its discount, and an order-level remainder (a
	// shipping discount) is taken off the shipping cost. Needs no NetSuite
	// item, so it is the default.
	DiscountNet = "net"
	// DiscountLineItem sends full-price lines, each discounted line
	// followed by a line of DiscountItem with its discount (NetSuite
	// applies a discount line to the line above it), plus one for an
	// order-level remainder.
	DiscountLineItem = "line_item"
	// DiscountOrderItem sends full-price lines and one line of
	// DiscountItem with the order's whole discount.
	DiscountOrderItem = "order_item"
)

// Tax modes.
const (
	// TaxNetSuite lets NetSuite compute tax (SuiteTax or legacy tax codes
	// on the items and customer): no tax is sent, and the expected NetSuite
	// total assumes NetSuite arrives at Commerce's tax.
	TaxNetSuite = "netsuite"
	// TaxAmounts passes Commerce's tax as a line of TaxItem (a
	// non-taxable other-charge item), so NetSuite's total is Commerce's to
	// the cent; TaxCode, when set, goes on every item line (a "not
	// taxable" code keeps NetSuite from adding its own tax).
	TaxAmounts = "amounts"
)

// Bundle line handling (adobe-commerce.md §7).
const (
	// BundleAuto emits a bundle's children when any of them carries a
	// price (dynamic pricing), else the parent (fixed pricing).
	BundleAuto = "auto"
	// BundleParent always emits the parent line (a NetSuite kit).
	BundleParent = "parent"
	// BundleChildren always emits the child lines.
	BundleChildren = "children"
)

// Customer kinds.
const (
	// CustomerPerson makes every buyer an individual (isPerson true).
	CustomerPerson = "person"
	// CustomerCompany makes a buyer whose billing address names a company
	// a company customer (isPerson false, companyName); others stay persons.
	CustomerCompany = "company"
)

// Settings are the mapping settings: the "mapping" document, and per store
// a "mapping.<store>" document whose set fields override it. Every field
// has a documented default; the zero Settings is a working configuration
// for a single-currency, non-OneWorld account.
type Settings struct {
	// TimeZone is the IANA zone tranDate is taken in: a NetSuite date is
	// the order's (invoice's) creation day in the store's zone. Default UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// OrderStatus is the sales order status on import: "B" (Pending
	// Fulfillment, approved; needed to invoice by transform) or "A"
	// (Pending Approval). Default B.
	OrderStatus string `json:"order_status,omitempty"`
	// Location is the NetSuite location internal id of orders and direct
	// invoices. Default none.
	Location string `json:"location,omitempty"`
	// Currencies maps ISO 4217 codes to NetSuite currency internal ids.
	// Empty (default): no currency is sent and NetSuite uses the customer's
	// (single-currency accounts). Set: an order in a currency not listed is
	// unmappable.
	Currencies map[string]string `json:"currencies,omitempty"`
	// ShipMethods maps Commerce shipping methods (carrier_method, e.g.
	// flatrate_flatrate) to NetSuite ship item ids; a method not listed gets
	// DefaultShipMethod, or no shipMethod when that is empty (default).
	ShipMethods       map[string]string `json:"ship_methods,omitempty"`
	DefaultShipMethod string            `json:"default_ship_method,omitempty"`
	// PriceLevel is the price level put on every item line ("-1" is
	// Custom). Default none: the line's rate is the storefront price either way.
	PriceLevel string `json:"price_level,omitempty"`
	// Discounts is DiscountNet (default), DiscountLineItem or
	// DiscountOrderItem; the item modes need DiscountItem.
	Discounts    string `json:"discounts,omitempty"`
	DiscountItem string `json:"discount_item,omitempty"`
	// Tax is TaxNetSuite (default) or TaxAmounts, which needs TaxItem.
	Tax     string `json:"tax,omitempty"`
	TaxItem string `json:"tax_item,omitempty"`
	TaxCode string `json:"tax_code,omitempty"`
	// Bundles is BundleAuto (default), BundleParent or BundleChildren.
	Bundles string `json:"bundles,omitempty"`
	// VarianceTolerance is the largest |NetSuite total - Commerce grand
	// total| that is not flagged. Default 0: any difference is flagged.
	VarianceTolerance *decimal.Decimal `json:"variance_tolerance,omitempty"`
	// VarianceField, when set, is a transaction body custom field
	// (custbody...) that receives the variance on every order and invoice.
	VarianceField string `json:"variance_field,omitempty"`
	// CouponField, when set, is a custbody field that receives the coupon
	// code. The code is in the memo either way.
	CouponField string `json:"coupon_field,omitempty"`
	// Invoices is event.InvoiceFromOrder ("transform", default: NetSuite
	// bills the sales order) or event.InvoiceDirect ("direct").
	Invoices string `json:"invoices,omitempty"`
	// Customers is CustomerPerson (default) or CustomerCompany.
	Customers string `json:"customers,omitempty"`
}

var (
	reInternalID  = regexp.MustCompile(`^-?[0-9]{1,18}$`)
	reCurrency    = regexp.MustCompile(`^[A-Z]{3}$`)
	reCustomField = regexp.MustCompile(`^custbody[a-z0-9_]{1,60}$`)
)

// Validate checks a document (the base or a store's overrides): every
// value must be one a resolved configuration could use.
func (s Settings) Validate() error {
	var errs []error
	id := func(field, v string) {
		if v != "" && !reInternalID.MatchString(v) {
			errs = append(errs, fmt.Errorf("%s %q is not a NetSuite internal id (digits)", field, v))
		}
	}
	oneOf := func(field, v string, allowed ...string) {
		if v == "" {
			return
		}
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		errs = append(errs, fmt.Errorf("%s %q: want one of %s", field, v, strings.Join(allowed, ", ")))
	}
	if s.TimeZone != "" {
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			errs = append(errs, fmt.Errorf("time_zone %q: %w", s.TimeZone, err))
		}
	}
	oneOf("order_status", s.OrderStatus, "A", "B")
	id("location", s.Location)
	for _, code := range sortedKeys(s.Currencies) {
		if !reCurrency.MatchString(code) {
			errs = append(errs, fmt.Errorf("currencies: %q is not an ISO 4217 code (three capitals)", code))
		}
		id("currencies."+code, s.Currencies[code])
		if s.Currencies[code] == "" {
			errs = append(errs, fmt.Errorf("currencies.%s is empty", code))
		}
	}
	for _, m := range sortedKeys(s.ShipMethods) {
		if strings.TrimSpace(m) == "" {
			errs = append(errs, errors.New("ship_methods: empty Commerce method"))
		}
		id("ship_methods."+m, s.ShipMethods[m])
		if s.ShipMethods[m] == "" {
			errs = append(errs, fmt.Errorf("ship_methods.%s is empty", m))
		}
	}
	id("default_ship_method", s.DefaultShipMethod)
	id("price_level", s.PriceLevel)
	oneOf("discounts", s.Discounts, DiscountNet, DiscountLineItem, DiscountOrderItem)
	id("discount_item", s.DiscountItem)
	oneOf("tax", s.Tax, TaxNetSuite, TaxAmounts)
	id("tax_item", s.TaxItem)
	id("tax_code", s.TaxCode)
	oneOf("bundles", s.Bundles, BundleAuto, BundleParent, BundleChildren)
	if t := s.VarianceTolerance; t != nil && t.IsNegative() {
		errs = append(errs, fmt.Errorf("variance_tolerance %s is negative", t))
	}
	for field, v := range map[string]string{"variance_field": s.VarianceField, "coupon_field": s.CouponField} {
		if v != "" && !reCustomField.MatchString(v) {
			errs = append(errs, fmt.Errorf("%s %q: want a transaction body custom field id (custbody..., lowercase)", field, v))
		}
	}
	if s.VarianceField != "" && s.VarianceField == s.CouponField {
		errs = append(errs, fmt.Errorf("variance_field and coupon_field are both %q", s.VarianceField))
	}
	oneOf("invoices", s.Invoices, event.InvoiceFromOrder, event.InvoiceDirect)
	oneOf("customers", s.Customers, CustomerPerson, CustomerCompany)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mapping settings: %w", err)
	}
	return nil
}

// Merge returns base with every field that over sets replacing it; maps
// merge key by key (over's entries win).
func Merge(base, over Settings) Settings {
	out := base
	str := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	str(&out.TimeZone, over.TimeZone)
	str(&out.OrderStatus, over.OrderStatus)
	str(&out.Location, over.Location)
	str(&out.DefaultShipMethod, over.DefaultShipMethod)
	str(&out.PriceLevel, over.PriceLevel)
	str(&out.Discounts, over.Discounts)
	str(&out.DiscountItem, over.DiscountItem)
	str(&out.Tax, over.Tax)
	str(&out.TaxItem, over.TaxItem)
	str(&out.TaxCode, over.TaxCode)
	str(&out.Bundles, over.Bundles)
	str(&out.VarianceField, over.VarianceField)
	str(&out.CouponField, over.CouponField)
	str(&out.Invoices, over.Invoices)
	str(&out.Customers, over.Customers)
	if over.VarianceTolerance != nil {
		t := *over.VarianceTolerance
		out.VarianceTolerance = &t
	}
	out.Currencies = mergeMap(base.Currencies, over.Currencies)
	out.ShipMethods = mergeMap(base.ShipMethods, over.ShipMethods)
	return out
}

func mergeMap(a, b map[string]string) map[string]string {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := make(map[string]string, len(a)+len(b))
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}

// Rules are resolved settings for one store: defaults applied, the time
// zone loaded, cross-field requirements checked. Mapping uses only Rules.
type Rules struct {
	Settings
	loc       *time.Location
	tolerance decimal.Decimal
}

// Resolve applies the defaults to s (a Merge of the base and a store's
// overrides) and checks what only the combination can tell: an item mode
// without its item.
func Resolve(s Settings) (Rules, error) {
	if err := s.Validate(); err != nil {
		return Rules{}, err
	}
	def := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	def(&s.TimeZone, "UTC")
	def(&s.OrderStatus, "B")
	def(&s.Discounts, DiscountNet)
	def(&s.Tax, TaxNetSuite)
	def(&s.Bundles, BundleAuto)
	def(&s.Invoices, event.InvoiceFromOrder)
	def(&s.Customers, CustomerPerson)
	var errs []error
	if s.Discounts != DiscountNet && s.DiscountItem == "" {
		errs = append(errs, fmt.Errorf("discounts %q needs discount_item", s.Discounts))
	}
	if s.Tax == TaxAmounts && s.TaxItem == "" {
		errs = append(errs, fmt.Errorf("tax %q needs tax_item", s.Tax))
	}
	if s.Invoices == event.InvoiceFromOrder && s.OrderStatus != "B" {
		errs = append(errs, errors.New(`invoices "transform" needs order_status "B" (NetSuite bills approved orders only)`))
	}
	if err := errors.Join(errs...); err != nil {
		return Rules{}, fmt.Errorf("mapping settings: %w", err)
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return Rules{}, fmt.Errorf("mapping settings: time_zone %q: %w", s.TimeZone, err)
	}
	r := Rules{Settings: s, loc: loc}
	if s.VarianceTolerance != nil {
		r.tolerance = *s.VarianceTolerance
	}
	return r, nil
}

// DefaultRules are the rules of the zero Settings.
func DefaultRules() Rules {
	return Rules{Settings: Settings{TimeZone: "UTC", OrderStatus: "B", Discounts: DiscountNet, Tax: TaxNetSuite,
		Bundles: BundleAuto, Invoices: event.InvoiceFromOrder, Customers: CustomerPerson}, loc: time.UTC}
}

// References lists every NetSuite internal id the settings refer to, by
// kind, for `mlc settings check`.
type References struct {
	Locations, Currencies, ShipMethods, PriceLevels, Items []string
}

// Refs returns the NetSuite records s refers to (sorted, no duplicates).
func (s Settings) Refs() References {
	var r References
	add := func(dst *[]string, v string) {
		if v != "" && v != "-1" {
			*dst = append(*dst, v)
		}
	}
	add(&r.Locations, s.Location)
	for _, v := range s.Currencies {
		add(&r.Currencies, v)
	}
	for _, v := range s.ShipMethods {
		add(&r.ShipMethods, v)
	}
	add(&r.ShipMethods, s.DefaultShipMethod)
	add(&r.PriceLevels, s.PriceLevel)
	add(&r.Items, s.DiscountItem)
	add(&r.Items, s.TaxItem)
	for _, l := range []*[]string{&r.Locations, &r.Currencies, &r.ShipMethods, &r.PriceLevels, &r.Items} {
		*l = uniq(*l)
	}
	return r
}

func uniq(xs []string) []string {
	sort.Strings(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
