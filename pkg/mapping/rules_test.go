package mapping

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/commercefact"
	"github.com/ml-connector/ml-connector/pkg/event"
)

func TestStoreKey(t *testing.T) {
	for _, store := range []string{"default", "en_us", "us.east", "a b", "ü-shop", "_", "a__b"} {
		key := StoreKey(store)
		for i := 0; i < len(key); i++ {
			c := key[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
				t.Fatalf("StoreKey(%q) = %q: %q is not a KV key character", store, key, c)
			}
		}
		if strings.Count(key, ".") != 1 {
			t.Errorf("StoreKey(%q) = %q: the store must be one key token", store, key)
		}
		got, ok := StoreFromKey(key)
		if !ok || got != store {
			t.Errorf("StoreFromKey(%q) = %q, %v; want %q", key, got, ok, store)
		}
	}
	for _, key := range []string{"mapping", "mapping.", "inventory.default", "mapping.us_2eeast", "mapping._41", "mapping.a_", "mapping.a_4"} {
		if s, ok := StoreFromKey(key); ok {
			t.Errorf("StoreFromKey(%q) = %q, want no store", key, s)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	neg := decimal.RequireFromString("-0.01")
	cases := []struct {
		name string
		s    Settings
		want string // "" = valid
	}{
		{"zero", Settings{}, ""},
		{"full", Settings{TimeZone: "Europe/London", OrderStatus: "A", Location: "3", Currencies: map[string]string{"USD": "1"},
			ShipMethods: map[string]string{"flatrate_flatrate": "4"}, DefaultShipMethod: "5", PriceLevel: "-1",
			Discounts: DiscountLineItem, DiscountItem: "202", Tax: TaxAmounts, TaxItem: "203", TaxCode: "-8", Bundles: BundleParent,
			VarianceField: "custbody_mlc_variance", CouponField: "custbody_coupon", Invoices: event.InvoiceDirect, Customers: CustomerCompany}, ""},
		{"zone", Settings{TimeZone: "Mars/Olympus"}, "time_zone"},
		{"status", Settings{OrderStatus: "C"}, "order_status"},
		{"location", Settings{Location: "main"}, "location"},
		{"currency code", Settings{Currencies: map[string]string{"usd": "1"}}, "ISO 4217"},
		{"currency id", Settings{Currencies: map[string]string{"USD": ""}}, "currencies.USD"},
		{"ship method", Settings{ShipMethods: map[string]string{"flatrate_flatrate": "Flat"}}, "ship_methods.flatrate_flatrate"},
		{"discounts", Settings{Discounts: "percent"}, "discounts"},
		{"tax", Settings{Tax: "both"}, "tax"},
		{"bundles", Settings{Bundles: "all"}, "bundles"},
		{"tolerance", Settings{VarianceTolerance: &neg}, "negative"},
		{"custom field", Settings{VarianceField: "custcol_x"}, "variance_field"},
		{"same field", Settings{VarianceField: "custbody_x", CouponField: "custbody_x"}, "both"},
		{"invoices", Settings{Invoices: "copy"}, "invoices"},
		{"customers", Settings{Customers: "b2b"}, "customers"},
	}
	for _, c := range cases {
		err := c.s.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.want)
		}
	}
}

func TestMergeAndResolve(t *testing.T) {
	tol := decimal.RequireFromString("0.05")
	base := Settings{Location: "1", Currencies: map[string]string{"USD": "1", "GBP": "2"}, ShipMethods: map[string]string{"a": "1"}}
	over := Settings{Location: "2", Currencies: map[string]string{"GBP": "3", "EUR": "4"}, VarianceTolerance: &tol}
	m := Merge(base, over)
	if m.Location != "2" || m.Currencies["USD"] != "1" || m.Currencies["GBP"] != "3" || m.Currencies["EUR"] != "4" || m.ShipMethods["a"] != "1" {
		t.Fatalf("Merge = %+v", m)
	}
	if base.Currencies["GBP"] != "2" {
		t.Fatal("Merge changed its base")
	}
	r, err := Resolve(m)
	if err != nil {
		t.Fatal(err)
	}
	if r.TimeZone != "UTC" || r.OrderStatus != "B" || r.Discounts != DiscountNet || r.Tax != TaxNetSuite || r.Bundles != BundleAuto ||
		r.Invoices != event.InvoiceFromOrder || r.Customers != CustomerPerson || !r.tolerance.Equal(tol) {
		t.Fatalf("defaults not applied: %+v", r)
	}
	if d := DefaultRules(); d.Settings.TimeZone != "UTC" || d.loc == nil {
		t.Fatal("DefaultRules")
	}
	for _, bad := range []Settings{
		{Discounts: DiscountOrderItem},
		{Tax: TaxAmounts},
		{OrderStatus: "A"},
	} {
		if _, err := Resolve(bad); err == nil {
			t.Errorf("Resolve(%+v) accepted a combination that cannot map", bad)
		}
	}
	refs := Merge(m, Settings{DiscountItem: "202", TaxItem: "202", PriceLevel: "-1", DefaultShipMethod: "1"}).Refs()
	if strings.Join(refs.Items, ",") != "202" || refs.PriceLevels != nil || strings.Join(refs.ShipMethods, ",") != "1" ||
		strings.Join(refs.Currencies, ",") != "1,3,4" || strings.Join(refs.Locations, ",") != "2" {
		t.Fatalf("Refs = %+v", refs)
	}
}

func TestRounding(t *testing.T) {
	cases := []struct {
		currency               string
		price, qty, amount     string
		wantRate, wantRendered string
	}{
		{"USD", "7", "2", "14", "7", "7.00"},
		{"USD", "5", "3", "14", "4.66666667", "4.66666667"},
		{"USD", "16.66", "4", "66.63", "16.6575", "16.6575"},
		{"USD", "24.7851", "3", "74.36", "24.7851", "24.7851"}, // Commerce's 4-digit price already gives the row
		{"USD", "19.99", "0", "0", "19.99", "19.99"},
		{"JPY", "980", "3", "2940", "980", "980"},
		{"KWD", "1.2345", "1", "1.235", "1.235", "1.235"},
	}
	for _, c := range cases {
		m := money{places: Precision(c.currency)}
		rate := m.rateFor(decimal.RequireFromString(c.price), decimal.RequireFromString(c.qty), decimal.RequireFromString(c.amount))
		if !rate.Equal(decimal.RequireFromString(c.wantRate)) || string(m.rateNum(rate)) != c.wantRendered {
			t.Errorf("%s %s x %s -> %s: rate %s (%s), want %s (%s)", c.currency, c.qty, c.price, c.amount, rate, m.rateNum(rate), c.wantRate, c.wantRendered)
		}
		if q := decimal.RequireFromString(c.qty); q.IsPositive() && !m.lineAmount(q, rate).Equal(decimal.RequireFromString(c.amount)) {
			t.Errorf("%s %s x rate %s is not %s", c.currency, c.qty, rate, c.amount)
		}
	}
	if Precision("JPY") != 0 || Precision("BHD") != 3 || Precision("USD") != 2 || Precision("") != 2 {
		t.Error("Precision")
	}
}

func TestBundleModes(t *testing.T) {
	in, _ := loadInput(t, "bundle")
	skus := func(mode string) string {
		var out []string
		for _, l := range selectLines(in.Fact.Order.Lines, mode) {
			out = append(out, l.SKU)
		}
		return strings.Join(out, ",")
	}
	for mode, want := range map[string]string{
		BundleAuto:     "24-WG088,24-WG085,24-WG080",
		BundleParent:   "24-WG088,24-WG088-DYN",
		BundleChildren: "24-WG085,24-WG080,24-WG085,24-WG080",
	} {
		if got := skus(mode); got != want {
			t.Errorf("bundles %s: lines %s, want %s", mode, got, want)
		}
	}
	// A child whose parent is not on the order stands alone; a line that
	// names itself as parent is not its own child.
	lines := []commercefact.Line{
		{ItemID: 1, ParentItemID: 99, SKU: "A", Qty: decimal.NewFromInt(1)},
		{ItemID: 2, ParentItemID: 2, SKU: "B", Qty: decimal.NewFromInt(1)},
	}
	if got := selectLines(lines, BundleAuto); len(got) != 2 {
		t.Errorf("orphans: %d lines, want 2", len(got))
	}
}

// mutated maps the simple fixture after change edits its fact or input.
func mutated(t *testing.T, change func(in *Input)) (event.NetSuiteCommand, error) {
	t.Helper()
	in, _ := loadInput(t, "simple")
	o := *in.Fact.Order
	o.Lines = append([]commercefact.Line(nil), o.Lines...)
	in.Fact.Order = &o
	change(&in)
	return Map(in)
}

func TestUnmappableNamesEveryProblem(t *testing.T) {
	_, err := mutated(t, func(in *Input) {
		in.Fact.Store = "us.east"
		in.Subsidiary = ""
		in.Fact.Order.Currency = "CHF"
		in.Fact.Order.Lines[0].SKU = "TEE-M-RED"
		in.Fact.Order.Lines[1].SKU = "ABC-1"
	})
	var ue *UnmappableError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnmappable) {
		t.Fatalf("error %v is not an UnmappableError", err)
	}
	want := "order 000000001: store us.east has no NetSuite subsidiary (netsuite.subsidiaries); " +
		"currency CHF has no NetSuite currency (mapping currencies); SKUs ABC-1, TEE-M-RED have no NetSuite item"
	if err.Error() != want {
		t.Errorf("error\n %s\nwant\n %s", err, want)
	}
	fields := []string{}
	for _, p := range ue.Problems {
		fields = append(fields, p.Field+"="+p.Value)
	}
	if got := strings.Join(fields, " "); got != "subsidiary=us.east currency=CHF SKU=ABC-1,TEE-M-RED" {
		t.Errorf("problems %s", got)
	}
}

func TestHostileValues(t *testing.T) {
	// An increment id that cannot become a NetSuite externalId.
	_, err := mutated(t, func(in *Input) { in.Fact.Order.IncrementID = strings.Repeat("9", 120) })
	if !errors.Is(err, ErrUnmappable) || !strings.Contains(err.Error(), "external id") {
		t.Errorf("long increment id: %v", err)
	}
	// Odd store codes and SKUs map; the ids stay in NetSuite's charset.
	cmd, err := mutated(t, func(in *Input) {
		in.Fact.Store = "us.east shop"
		in.Items = ItemMap{"WB04": "104", "24-UG06": "108"}
		in.Fact.Order.Lines[0].Name = `<b>"Duffle" & co</b>` + strings.Repeat("é", 5000)
	})
	if err != nil {
		t.Fatal(err)
	}
	if cmd.ExternalID != "mlc-so-us_2Eeast_20shop-000000001" || cmd.Customer.ExternalID != "mlc-cust-us_2Eeast_20shop-12" {
		t.Errorf("external ids %s %s", cmd.ExternalID, cmd.Customer.ExternalID)
	}
	if !json.Valid(cmd.Record) || !strings.Contains(string(cmd.Record), `<b>\"Duffle\" & co</b>`) {
		t.Errorf("record does not carry the name verbatim: %.200s", cmd.Record)
	}
	// A quantity of zero is named, not sent.
	_, err = mutated(t, func(in *Input) { in.Fact.Order.Lines[0].Qty = decimal.Zero })
	if !errors.Is(err, ErrUnmappable) || !strings.Contains(err.Error(), "SKU WB04 has quantity 0") {
		t.Errorf("zero quantity: %v", err)
	}
	// A buyer without names.
	_, err = mutated(t, func(in *Input) {
		in.Fact.Order.Customer.Firstname, in.Fact.Order.Customer.Lastname = "", ""
		b := *in.Fact.Order.BillingAddress
		b.Firstname, b.Lastname = "", ""
		in.Fact.Order.BillingAddress = &b
	})
	if !errors.Is(err, ErrUnmappable) || !strings.Contains(err.Error(), "no first and last name") {
		t.Errorf("nameless buyer: %v", err)
	}
	// Neither a customer id nor an e-mail.
	_, err = mutated(t, func(in *Input) { in.Fact.Order.BuyerKey = "" })
	if !errors.Is(err, ErrUnmappable) || !strings.Contains(err.Error(), "neither a customer id nor an e-mail") {
		t.Errorf("no buyer: %v", err)
	}
}

func TestIncompleteAndSkipped(t *testing.T) {
	_, err := mutated(t, func(in *Input) { in.Fact.Missing = []commercefact.Part{commercefact.PartLineParents} })
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "line_parents") {
		t.Errorf("webhook-shaped fact: %v", err)
	}
	_, err = mutated(t, func(in *Input) { in.Fact.Order.State = "canceled" })
	if !errors.Is(err, ErrSkipped) {
		t.Errorf("canceled order: %v", err)
	}
	if _, err := Map(Input{}); !errors.Is(err, ErrIncomplete) {
		t.Errorf("empty input: %v", err)
	}
	in, _ := loadInput(t, "partial_invoice")
	in.Order = nil
	if _, err := Map(in); !errors.Is(err, ErrIncomplete) {
		t.Errorf("invoice without its order: %v", err)
	}
}

func TestVarianceFlagged(t *testing.T) {
	// Commerce's grand total includes something the lines do not say (a
	// discount tax compensation, a fee): the variance is reported, flagged
	// beyond the tolerance, and written to the custom field.
	hidden := func(tol string) event.NetSuiteCommand {
		cmd, err := mutated(t, func(in *Input) {
			in.Fact.Order.Totals.GrandTotal = in.Fact.Order.Totals.GrandTotal.Add(decimal.RequireFromString("0.03"))
			if tol != "" {
				s := in.Rules.Settings
				d := decimal.RequireFromString(tol)
				s.VarianceTolerance = &d
				r, err := Resolve(s)
				if err != nil {
					t.Fatal(err)
				}
				in.Rules = r
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	strict := hidden("")
	if !strict.Totals.Variance.Equal(decimal.RequireFromString("-0.03")) || !strict.Totals.OverTolerance {
		t.Errorf("totals %+v", strict.Totals)
	}
	if !strings.Contains(string(strict.Record), `"custbody_mlc_variance":-0.03`) {
		t.Errorf("variance field missing: %s", strict.Record)
	}
	if loose := hidden("0.05"); loose.Totals.OverTolerance {
		t.Errorf("3 cents flagged with a 5 cent tolerance: %+v", loose.Totals)
	}
	// The flag is not content: a looser tolerance does not rewrite NetSuite.
	if strict.ContentHash() != hidden("0.05").ContentHash() {
		t.Error("the tolerance changed the content hash")
	}
}

// itemsWithInactive knows one inactive item.
type itemsWithInactive struct{ ItemMap }

func (i itemsWithInactive) InactiveItem(sku string) (string, bool) { return "120", sku == "OLD-TEE" }

func TestInactiveItemNamed(t *testing.T) {
	_, err := mutated(t, func(in *Input) {
		in.Items = itemsWithInactive{ItemMap{"24-UG06": "108"}}
		in.Fact.Order.Lines[0].SKU = "OLD-TEE"
	})
	if err == nil || err.Error() != "order 000000001: SKU OLD-TEE: its NetSuite item 120 is inactive" {
		t.Errorf("error %v", err)
	}
}
