package inventory

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/robfig/cron/v3"
	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/stock"
)

// SettingsKey is the mlc_settings key of inventory-publisher's settings.
const SettingsKey = "inventory"

// Write modes.
const (
	// WriteSync uses the synchronous batch endpoints, base-prices and
	// source-items, in chunks of BatchSize (the default).
	WriteSync = "sync"
	// WriteBulk submits the same bodies to the async bulk endpoints and
	// follows each bulk to completion.
	WriteBulk = "bulk"
)

// Price scopes.
const (
	// ScopeStore saves prices at the store view's scope (base-prices
	// store_id = the store's id): for catalogues whose price scope is the
	// website, where stores differ in price or currency.
	ScopeStore = "store"
	// ScopeGlobal saves prices with store_id 0, for a global price scope.
	ScopeGlobal = "global"
)

// MaxBatchSize bounds BatchSize; Commerce's input limit, when on, is 20
// per synchronous request and 5000 per async one (ref §14).
const MaxBatchSize = 5000

// Settings is the "inventory" document. Top-level fields are the defaults
// of every store; Stores overrides them per Commerce store code. Defaults
// (DefaultSettings) apply to whatever the document leaves out.
type Settings struct {
	// SKUField is the NetSuite item field holding the Commerce SKU:
	// itemid (default), upccode or externalid. One for all stores (the
	// item map is global).
	SKUField string `json:"sku_field"`
	// Schedule is when a store is synced: a cron expression ("*/15 * * * *",
	// "CRON_TZ=Europe/Berlin 0 6 * * *") or "@every 15m"; "" = on demand
	// only (`mlc sync inventory`). Default "@every 15m".
	Schedule string `json:"schedule"`
	// PriceLevel is the NetSuite price level's internal id (1 = Base Price).
	PriceLevel string `json:"price_level"`
	// Currency is the price's currency: its ISO code as NetSuite's currency
	// symbol ("USD") or its internal id ("1"). Default "USD".
	Currency string `json:"currency"`
	// PriceScope is store (default) or global.
	PriceScope string `json:"price_scope"`
	// StockBasis is available (default: quantityavailable) or onhand; see
	// stock.BasisAvailable and stock.BasisOnHand.
	StockBasis string `json:"stock_basis"`
	// SafetyBuffer is subtracted from every source's quantity (default 0).
	SafetyBuffer decimal.Decimal `json:"safety_buffer"`
	// Sources maps NetSuite location ids to MSI source codes; empty: every
	// location into DefaultSource.
	Sources map[string]string `json:"sources,omitempty"`
	// DefaultSource is the single source of a shop without MSI mapping
	// (default "default").
	DefaultSource string `json:"default_source"`
	// WriteMode is sync (default) or bulk.
	WriteMode string `json:"write_mode"`
	// BatchSize is the rows per Commerce request (default 20, Commerce's
	// input limit; raise only when the limit is off, up to MaxBatchSize).
	BatchSize int `json:"batch_size"`
	// Stores are per-store overrides, by Commerce store code.
	Stores map[string]StoreSettings `json:"stores,omitempty"`
}

// StoreSettings overrides the defaults for one store; a field left out
// (null) inherits.
type StoreSettings struct {
	// Disabled leaves the store out of scheduled and on-demand runs.
	Disabled      bool              `json:"disabled,omitempty"`
	Schedule      *string           `json:"schedule,omitempty"`
	PriceLevel    *string           `json:"price_level,omitempty"`
	Currency      *string           `json:"currency,omitempty"`
	PriceScope    *string           `json:"price_scope,omitempty"`
	StockBasis    *string           `json:"stock_basis,omitempty"`
	SafetyBuffer  *decimal.Decimal  `json:"safety_buffer,omitempty"`
	Sources       map[string]string `json:"sources,omitempty"`
	DefaultSource *string           `json:"default_source,omitempty"`
}

// DefaultSettings are the documented defaults.
func DefaultSettings() *Settings {
	return &Settings{SKUField: stock.FieldItemID, Schedule: "@every 15m", PriceLevel: "1", Currency: "USD",
		PriceScope: ScopeStore, StockBasis: stock.BasisAvailable, DefaultSource: "default", WriteMode: WriteSync, BatchSize: 20}
}

// StoreConfig is one store's resolved settings.
type StoreConfig struct {
	Store      string
	Disabled   bool
	Schedule   string
	PriceLevel string
	Currency   string
	PriceScope string
	Rules      stock.Rules
}

// For resolves the settings of store.
func (s *Settings) For(store string) StoreConfig {
	c := StoreConfig{Store: store, Schedule: s.Schedule, PriceLevel: s.PriceLevel, Currency: s.Currency, PriceScope: s.PriceScope,
		Rules: stock.Rules{Sources: s.Sources, Default: s.DefaultSource, Buffer: s.SafetyBuffer, Basis: s.StockBasis}}
	o, ok := s.Stores[store]
	if !ok {
		return c
	}
	c.Disabled = o.Disabled
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.Schedule, o.Schedule)
	set(&c.PriceLevel, o.PriceLevel)
	set(&c.Currency, o.Currency)
	set(&c.PriceScope, o.PriceScope)
	set(&c.Rules.Basis, o.StockBasis)
	set(&c.Rules.Default, o.DefaultSource)
	if o.SafetyBuffer != nil {
		c.Rules.Buffer = *o.SafetyBuffer
	}
	if o.Sources != nil {
		c.Rules.Sources = o.Sources
	}
	return c
}

// ParseSchedule parses a schedule setting; nil for "" (on demand only).
func ParseSchedule(spec string) (cron.Schedule, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	sch, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: want a cron expression (\"*/15 * * * *\") or \"@every 15m\": %w", spec, err)
	}
	return sch, nil
}

// Validate checks every field, naming the setting and the store.
func (s *Settings) Validate() error {
	var errs []error
	switch s.SKUField {
	case stock.FieldItemID, stock.FieldUPC, stock.FieldExternalID:
	default:
		errs = append(errs, fmt.Errorf("sku_field %q: want itemid, upccode or externalid", s.SKUField))
	}
	switch s.WriteMode {
	case WriteSync, WriteBulk:
	default:
		errs = append(errs, fmt.Errorf("write_mode %q: want sync or bulk", s.WriteMode))
	}
	if s.BatchSize < 1 || s.BatchSize > MaxBatchSize {
		errs = append(errs, fmt.Errorf("batch_size %d: want 1..%d (20 while Commerce's input limit is on)", s.BatchSize, MaxBatchSize))
	}
	errs = append(errs, s.For("").validate("")...)
	stores := make([]string, 0, len(s.Stores))
	for code := range s.Stores {
		stores = append(stores, code)
	}
	sort.Strings(stores)
	for _, code := range stores {
		if code == "" {
			errs = append(errs, errors.New(`stores: "" is not a store code`))
			continue
		}
		errs = append(errs, s.For(code).validate(code)...)
	}
	return errors.Join(errs...)
}

func (c StoreConfig) validate(store string) []error {
	where := ""
	if store != "" {
		where = fmt.Sprintf("stores[%q].", store)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(where+format, args...)) }
	if _, err := ParseSchedule(c.Schedule); err != nil {
		bad("%v", err)
	}
	if strings.TrimSpace(c.PriceLevel) == "" {
		bad("price_level is empty (NetSuite's price level id; 1 is Base Price)")
	}
	if strings.TrimSpace(c.Currency) == "" {
		bad("currency is empty (an ISO code such as USD, or NetSuite's currency id)")
	}
	switch c.PriceScope {
	case ScopeStore, ScopeGlobal:
	default:
		bad("price_scope %q: want store or global", c.PriceScope)
	}
	switch c.Rules.Basis {
	case stock.BasisAvailable, stock.BasisOnHand:
	default:
		bad("stock_basis %q: want available or onhand", c.Rules.Basis)
	}
	if c.Rules.Buffer.IsNegative() {
		bad("safety_buffer %s is negative", c.Rules.Buffer)
	}
	if !validSource(c.Rules.Default) {
		bad("default_source %q: want a source code (letters, digits, '-' and '_')", c.Rules.Default)
	}
	locs := make([]string, 0, len(c.Rules.Sources))
	for loc := range c.Rules.Sources {
		locs = append(locs, loc)
	}
	sort.Strings(locs)
	for _, loc := range locs {
		if strings.TrimSpace(loc) == "" || !validSource(c.Rules.Sources[loc]) {
			bad("sources %q -> %q: want a NetSuite location id and a source code", loc, c.Rules.Sources[loc])
		}
	}
	return errs
}

// validSource accepts MSI source codes as Commerce's admin does: letters,
// digits, '-' and '_', no spaces.
func validSource(code string) bool {
	if code == "" || len(code) > 255 {
		return false
	}
	for _, r := range code {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
