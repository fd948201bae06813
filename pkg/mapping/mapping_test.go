package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/commercefact"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/catalog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden from the current mapping")

// fixture is one file of testdata/fixtures: a realistic Commerce record in
// the REST shape and the settings it is mapped with.
type fixture struct {
	About         string          `json:"about"`
	Store         string          `json:"store"`
	Settings      json.RawMessage `json:"settings"`
	StoreSettings json.RawMessage `json:"store_settings"`
	// The records are REST bodies, decoded as the client does (extra
	// fields allowed).
	Order    json.RawMessage `json:"order"`
	Invoice  json.RawMessage `json:"invoice"`
	Customer json.RawMessage `json:"customer"`
}

func restRecord[T any](t testing.TB, name string, b json.RawMessage) *T {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return &v
}

// testSubsidiaries is the OneWorld mapping every fixture is mapped with:
// two stores, two subsidiaries; any other store has none.
func testSubsidiaries() map[string]string { return map[string]string{"default": "2", "uk": "3"} }

// testItems is mlc_item_map as inventory-publisher would fill it from the
// simulators' shared catalogue, plus the 100-line order's SKUs.
func testItems() ItemMap {
	m := ItemMap{}
	for _, p := range catalog.Default() {
		if p.NetSuiteID != 0 {
			m[p.SKU] = fmt.Sprint(p.NetSuiteID)
		}
	}
	for i := 1; i <= 100; i++ {
		m[fmt.Sprintf("SKU-%03d", i)] = fmt.Sprint(1000 + i)
	}
	return m
}

func strictSettings(t testing.TB, b json.RawMessage) Settings {
	t.Helper()
	var s Settings
	if len(b) == 0 {
		return s
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("settings: %v", err)
	}
	return s
}

// loadInput reads a fixture into the Input the service would build.
func loadInput(t testing.TB, name string) (Input, fixture) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx fixture
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fx); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	rules, err := Resolve(Merge(strictSettings(t, fx.Settings), strictSettings(t, fx.StoreSettings)))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	in := Input{Rules: rules, OneWorld: true, Subsidiary: testSubsidiaries()[fx.Store], Items: testItems()}
	ro, ri, rc := restRecord[commerce.Order](t, name, fx.Order), restRecord[commerce.Invoice](t, name, fx.Invoice),
		restRecord[commerce.Customer](t, name, fx.Customer)
	var order *commercefact.Fact
	if ro != nil {
		of, err := commercefact.OrderFact(fx.Store, *ro)
		if err != nil {
			t.Fatalf("fixture %s: order: %v", name, err)
		}
		order = &of
	}
	switch {
	case ri != nil:
		if order == nil {
			t.Fatalf("fixture %s: an invoice needs its order", name)
		}
		in.Fact, err = commercefact.InvoiceFact(fx.Store, *ri, order.Order.IncrementID)
		in.Order = order.Order
	case rc != nil:
		in.Fact, err = commercefact.CustomerFact(fx.Store, *rc)
	case order != nil:
		in.Fact = *order
	default:
		t.Fatalf("fixture %s holds no record", name)
	}
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return in, fx
}

// golden renders what Map gave: the command, or the error for a person.
func golden(cmd event.NetSuiteCommand, err error) []byte {
	if err != nil {
		kind := "error"
		switch {
		case errors.Is(err, ErrUnmappable):
			kind = "unmappable"
		case errors.Is(err, ErrSkipped):
			kind = "skipped"
		case errors.Is(err, ErrIncomplete):
			kind = "incomplete"
		}
		return []byte(kind + ": " + err.Error() + "\n")
	}
	b, merr := json.MarshalIndent(cmd, "", "  ")
	if merr != nil {
		panic(merr)
	}
	return append(b, '\n')
}

func TestFixtures(t *testing.T) {
	cases := []struct {
		name string
		// variance is the expected NetSuite total - Commerce grand total
		// ("" for records without totals or that do not map).
		variance string
		err      error
	}{
		{name: "simple", variance: "0"},
		{name: "configurable", variance: "0"},
		{name: "bundle", variance: "0"},
		{name: "cart_discount", variance: "0"},
		{name: "coupon", variance: "0"},
		{name: "net_discount", variance: "0"},
		{name: "tax_inclusive", variance: "0"},
		{name: "free_shipping", variance: "0"},
		{name: "multi_currency", variance: "0"},
		{name: "zero_decimal_currency", variance: "0"},
		{name: "guest", variance: "0"},
		{name: "two_stores", variance: "0"},
		{name: "partial_invoice", variance: "0"},
		{name: "direct_invoice", variance: "0"},
		{name: "hundred_lines", variance: "0"},
		{name: "customer"},
		{name: "unknown_sku", err: ErrUnmappable},
		{name: "no_subsidiary", err: ErrUnmappable},
		{name: "missing_address", err: ErrUnmappable},
		{name: "open_invoice", err: ErrSkipped},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, _ := loadInput(t, c.name)
			cmd, err := Map(in)
			if c.err == nil && err != nil {
				t.Fatalf("Map: %v", err)
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Fatalf("Map error = %v, want %v", err, c.err)
			}
			got := golden(cmd, err)
			ext := ".json"
			if err != nil {
				ext = ".err"
			}
			path := filepath.Join("testdata", "golden", c.name+ext)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatalf("%v (run go test ./mapping -run TestFixtures -update)", rerr)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", path, diffLines(string(want), string(got)))
			}
			// Redelivery: the same input gives the same bytes.
			again, err2 := Map(in)
			if !bytes.Equal(golden(again, err2), got) {
				t.Error("a second Map of the same input differs")
			}
			if err != nil {
				return
			}
			if _, err := cmd.Data(); err != nil {
				t.Errorf("command does not validate: %v", err)
			}
			checkTotals(t, in, cmd, c.variance)
		})
	}
}

// checkTotals recomputes the NetSuite total from the record itself (the
// lines NetSuite will hold, round(quantity × rate) each, plus shipping and
// tax) and checks it against Totals, and the variance against Commerce.
func checkTotals(t *testing.T, in Input, cmd event.NetSuiteCommand, wantVariance string) {
	t.Helper()
	if cmd.Kind == event.KindCustomer {
		if cmd.Totals != nil {
			t.Error("customer command carries totals")
		}
		return
	}
	tt := cmd.Totals
	if tt == nil {
		t.Fatal("no totals")
	}
	var rec struct {
		ShippingCost *decimal.Decimal `json:"shippingCost"`
		Item         struct {
			Items []struct {
				OrderLine int              `json:"orderLine"`
				Quantity  *decimal.Decimal `json:"quantity"`
				Rate      *decimal.Decimal `json:"rate"`
			} `json:"items"`
		} `json:"item"`
	}
	if err := json.Unmarshal(cmd.Record, &rec); err != nil {
		t.Fatal(err)
	}
	cur := tt.Currency
	places := Precision(cur)
	total := decimal.Zero
	if rec.ShippingCost != nil {
		total = total.Add(*rec.ShippingCost)
	}
	if cmd.Kind == event.KindInvoice && cmd.Invoice.Mode == event.InvoiceFromOrder {
		// The invoice's lines are the sales order's with overrides.
		orderCmd, err := Map(Input{Fact: commercefact.Fact{Kind: event.OrderPlaced, Store: in.Fact.Store, Order: in.Order},
			Rules: in.Rules, OneWorld: in.OneWorld, Subsidiary: in.Subsidiary, Items: in.Items})
		if err != nil {
			t.Fatal(err)
		}
		var so struct {
			Item struct {
				Items []struct {
					Quantity *decimal.Decimal `json:"quantity"`
					Rate     decimal.Decimal  `json:"rate"`
				} `json:"items"`
			} `json:"item"`
		}
		if err := json.Unmarshal(orderCmd.Record, &so); err != nil {
			t.Fatal(err)
		}
		if len(rec.Item.Items) != len(so.Item.Items) {
			t.Fatalf("transform overrides %d lines, the sales order has %d", len(rec.Item.Items), len(so.Item.Items))
		}
		for i, l := range rec.Item.Items {
			if l.OrderLine != i+1 {
				t.Fatalf("line %d overrides orderLine %d", i, l.OrderLine)
			}
			ol := so.Item.Items[i]
			qty, rate := decimal.NewFromInt(1), ol.Rate
			if ol.Quantity != nil {
				qty = *ol.Quantity
			}
			if l.Quantity != nil {
				qty = *l.Quantity
			}
			if l.Rate != nil {
				rate = *l.Rate
			}
			total = total.Add(qty.Mul(rate).Round(places))
		}
	} else {
		for _, l := range rec.Item.Items {
			qty := decimal.NewFromInt(1)
			if l.Quantity != nil {
				qty = *l.Quantity
			}
			total = total.Add(qty.Mul(*l.Rate).Round(places))
		}
	}
	if in.Rules.Tax == TaxNetSuite {
		tax := in.Fact.Order
		switch {
		case tax != nil:
			total = total.Add(tax.Totals.Tax)
		case in.Fact.Invoice != nil:
			total = total.Add(in.Fact.Invoice.Totals.Tax)
		}
	}
	if !total.Equal(tt.NetSuiteTotal) {
		t.Errorf("record adds up to %s, Totals.NetSuiteTotal is %s", total, tt.NetSuiteTotal)
	}
	var grand decimal.Decimal
	if in.Fact.Order != nil {
		grand = in.Fact.Order.Totals.GrandTotal
	} else {
		grand = in.Fact.Invoice.Totals.GrandTotal
	}
	if !tt.CommerceTotal.Equal(grand) {
		t.Errorf("CommerceTotal %s, Commerce's grand total is %s", tt.CommerceTotal, grand)
	}
	if !tt.Variance.Equal(tt.NetSuiteTotal.Sub(tt.CommerceTotal)) {
		t.Errorf("variance %s is not %s - %s", tt.Variance, tt.NetSuiteTotal, tt.CommerceTotal)
	}
	if tt.OverTolerance != tt.Variance.Abs().GreaterThan(in.Rules.tolerance) {
		t.Errorf("over tolerance %v for variance %s, tolerance %s", tt.OverTolerance, tt.Variance, in.Rules.tolerance)
	}
	if want := decimal.RequireFromString(wantVariance); !tt.Variance.Equal(want) {
		t.Errorf("variance %s, want %s", tt.Variance, want)
	}
}

// diffLines shows the first differing lines of two texts.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 12; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
