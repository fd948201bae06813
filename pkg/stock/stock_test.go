package stock

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }
func dp(s string) *decimal.Decimal {
	v := d(s)
	return &v
}

func lv(loc, avail, onhand string) Level {
	return Level{Location: loc, Available: d(avail), OnHand: d(onhand)}
}

func render(qs []event.SourceQuantity) string {
	var parts []string
	for _, q := range qs {
		parts = append(parts, fmt.Sprintf("%s=%s/%t", q.SourceCode, q.Quantity, q.InStock))
	}
	return strings.Join(parts, " ")
}

func TestQuantities(t *testing.T) {
	msi := map[string]string{"1": "us-east", "2": "us-east", "3": "eu"}
	for _, tc := range []struct {
		name   string
		r      Rules
		levels []Level
		want   string
	}{
		{"single source sums every location", Rules{Default: "default"}, []Level{lv("1", "5", "9"), lv("7", "3", "3")}, "default=8/true"},
		{"no stock rows: published as 0", Rules{Default: "default"}, nil, "default=0/false"},
		{"buffer subtracted", Rules{Default: "default", Buffer: d("2")}, []Level{lv("1", "5", "5")}, "default=3/true"},
		{"buffer larger than stock: 0, never negative", Rules{Default: "default", Buffer: d("10")}, []Level{lv("1", "5", "5")}, "default=0/false"},
		{"buffer exactly the stock: out of stock", Rules{Default: "default", Buffer: d("5")}, []Level{lv("1", "5", "5")}, "default=0/false"},
		{"negative available is 0 and takes nothing from others", Rules{Default: "default"}, []Level{lv("1", "-4", "0"), lv("2", "6", "6")}, "default=6/true"},
		{"all negative", Rules{Default: "default"}, []Level{lv("1", "-4", "-4")}, "default=0/false"},
		{"fractional", Rules{Default: "default", Buffer: d("0.5")}, []Level{lv("1", "2.25", "3")}, "default=1.75/true"},
		{"locations map to sources, unmapped ignored", Rules{Sources: msi}, []Level{lv("1", "4", "4"), lv("2", "1", "1"), lv("3", "2", "2"), lv("9", "100", "100")}, "eu=2/true us-east=5/true"},
		{"mapped source without stock is 0", Rules{Sources: msi}, []Level{lv("3", "2", "2")}, "eu=2/true us-east=0/false"},
		{"buffer per source", Rules{Sources: msi, Buffer: d("3")}, []Level{lv("1", "4", "4"), lv("3", "2", "2")}, "eu=0/false us-east=1/true"},
		{"on-hand basis", Rules{Default: "default", Basis: BasisOnHand}, []Level{lv("1", "5", "9")}, "default=9/true"},
		{"available basis", Rules{Default: "default", Basis: BasisAvailable}, []Level{lv("1", "5", "9")}, "default=5/true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := render(tc.r.Quantities(tc.levels, tc.r.Codes()))
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSKU(t *testing.T) {
	it := Item{ID: "7", ItemID: "TEE : TEE-M", UPC: " 0123 ", ExternalID: "ext/1"}
	for field, want := range map[string]string{FieldItemID: "TEE-M", FieldUPC: "0123", FieldExternalID: "ext/1"} {
		if got, err := it.SKU(field); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", field, got, err, want)
		}
	}
	for _, bad := range []string{"", "   ", "a\nb", "a\rb", "tab\tx", "\x7f", "\xff\xfe", strings.Repeat("x", MaxSKULen+1), "a\u2028b", "a\u0085b"} {
		if _, err := (Item{ID: "1", ItemID: bad}).SKU(FieldItemID); !errors.Is(err, ErrBadSKU) {
			t.Errorf("SKU %q accepted: %v", bad, err)
		}
	}
	for _, ok := range []string{"with space", "a/b", "Größe", "日本", "🙂", strings.Repeat("x", MaxSKULen)} {
		if got, err := (Item{ID: "1", ItemID: ok}).SKU(FieldItemID); err != nil || got != ok {
			t.Errorf("SKU %q: %q %v", ok, got, err)
		}
	}
}

func TestBySKU(t *testing.T) {
	items := []Item{
		{ID: "10", ItemID: "A", Type: "InvtPart", Inactive: true},
		{ID: "11", ItemID: "A", Type: "InvtPart"}, // active wins over the inactive 10
		{ID: "9", ItemID: "B", Type: "Kit"},
		{ID: "100", ItemID: "B", Type: "Kit"}, // 9 < 100 numerically
		{ID: "12", ItemID: "", Type: "InvtPart"},
		{ID: "13", ItemID: "Shipping", Type: "OthCharge"}, // not a product
		{ID: "14", ItemID: "G", Type: "Group"},
	}
	m, problems := BySKU(items, FieldItemID)
	if m["A"].ID != "11" || m["B"].ID != "9" || m["G"].ID != "14" || len(m) != 3 {
		t.Fatalf("index: %+v", m)
	}
	if len(problems) != 3 {
		t.Fatalf("problems: %+v", problems)
	}
}

func TestComputeByType(t *testing.T) {
	r := Rules{Default: "default"}
	codes := r.Codes()
	levels := []Level{lv("1", "4", "4")}
	for typ, want := range map[string][2]bool{ // price, stock
		"InvtPart": {true, true}, "Assembly": {true, true}, "Kit": {true, false}, "NonInvtPart": {true, false},
		"Service": {true, false}, "Group": {false, false}, "Discount": {false, false},
	} {
		s := Compute(Item{ID: "1", Type: typ}, levels, dp("9.99"), "USD", r, codes)
		if (s.Price != nil) != want[0] || (s.Sources != nil) != want[1] {
			t.Errorf("%s: price %v sources %v, want %v", typ, s.Price, s.Sources, want)
		}
	}
}

func TestDiffApplyGone(t *testing.T) {
	r := Rules{Default: "default"}
	codes := r.Codes()
	it := Item{ID: "5", Type: "InvtPart"}
	first := Compute(it, []Level{lv("1", "3", "3")}, dp("10.00"), "USD", r, codes)
	if c := Diff(State{}, false, first); !c.Price || !c.Stock {
		t.Fatalf("never published: %+v", c)
	}
	same := Compute(it, []Level{lv("1", "3.0", "3")}, dp("10"), "USD", r, codes)
	if c := Diff(first, true, same); c.Any() {
		t.Fatalf("equal values (10.00 = 10, 3.0 = 3) changed: %+v", c)
	}
	priceOnly := Compute(it, []Level{lv("1", "3", "3")}, dp("11"), "USD", r, codes)
	if c := Diff(first, true, priceOnly); !c.Price || c.Stock {
		t.Fatalf("price change: %+v", c)
	}
	if c := Diff(first, true, Compute(it, []Level{lv("1", "3", "3")}, dp("10"), "GBP", r, codes)); !c.Price {
		t.Fatal("currency change is a price change")
	}
	stockOnly := Compute(it, []Level{lv("1", "0", "0")}, dp("10"), "USD", r, codes)
	c := Diff(first, true, stockOnly)
	if c.Price || !c.Stock {
		t.Fatalf("stock change: %+v", c)
	}
	next := Apply(first, stockOnly, c)
	if !next.Price.Equal(d("10")) || render(next.Sources) != "default=0/false" {
		t.Fatalf("applied: %+v", next)
	}
	if c := Diff(first, true, Compute(it, nil, nil, "USD", r, codes)); c.Price {
		t.Fatal("a price NetSuite no longer has is not a change")
	}
	if fp := Fingerprint(first, true); fp == "" || fp == Fingerprint(next, true) || Fingerprint(first, false) != "" {
		t.Fatal("fingerprints")
	}
	gone, gc, ok := Gone(first)
	if !ok || !gc.Stock || gc.Price || render(gone.Sources) != "default=0/false" || !gone.Price.Equal(d("10")) {
		t.Fatalf("gone: %+v %+v %v", gone, gc, ok)
	}
	if _, _, ok := Gone(gone); ok {
		t.Fatal("an all-zero SKU is gone already")
	}
	if _, _, ok := Gone(State{Price: dp("1")}); ok {
		t.Fatal("a SKU without published stock has nothing to zero")
	}
}

func TestParseRows(t *testing.T) {
	it, err := ParseItem(netsuite.Row{"id": "5", "itemid": "A", "itemtype": "InvtPart", "isinactive": "T"})
	if err != nil || !it.Inactive || it.UPC != "" {
		t.Fatalf("item: %+v %v", it, err)
	}
	if _, err := ParseItem(netsuite.Row{"id": "5", "isinactive": "maybe"}); err == nil {
		t.Fatal("bad boolean accepted")
	}
	item, l, err := ParseLevel(netsuite.Row{"item": "5", "location": "2", "quantityavailable": "-3"})
	if err != nil || item != "5" || !l.Available.Equal(d("-3")) || !l.OnHand.IsZero() {
		t.Fatalf("level: %v %+v %v", item, l, err)
	}
	if _, _, err := ParseLevel(netsuite.Row{"item": "5", "location": "2", "quantityavailable": "x"}); err == nil {
		t.Fatal("bad quantity accepted")
	}
	if _, _, err := ParsePrice(netsuite.Row{"item": "5", "unitprice": "-1"}); err == nil {
		t.Fatal("negative price accepted")
	}
	if _, _, err := ParsePrice(netsuite.Row{"item": "5"}); err == nil {
		t.Fatal("null price accepted")
	}
	tiers := []Tier{{Price: d("8"), Quantity: d("10")}, {Price: d("9.5"), Quantity: d("0")}, {Price: d("7"), Quantity: d("100")}}
	if p := Lowest(tiers); p == nil || !p.Equal(d("9.5")) {
		t.Fatalf("lowest tier: %v", p)
	}
	if Lowest(nil) != nil {
		t.Fatal("no tiers, no price")
	}
}

// Rows come from NetSuite: no input may panic, and whatever parses is sane.
func FuzzParseRows(f *testing.F) {
	f.Add("5", "2", "3", "4", "9.99", "0", "T")
	f.Add("", "", "-1", "x", "-0", "", "maybe")
	f.Add("5", "2", "1e400", "NaN", "1.5e3", "2", "F")
	f.Fuzz(func(t *testing.T, item, loc, avail, onhand, price, qty, inactive string) {
		if it, err := ParseItem(netsuite.Row{"id": item, "itemid": loc, "isinactive": inactive}); err == nil {
			_, _ = it.SKU(FieldItemID)
		}
		if _, l, err := ParseLevel(netsuite.Row{"item": item, "location": loc, "quantityavailable": avail, "quantityonhand": onhand}); err == nil {
			r := Rules{Default: "default", Buffer: d("1")}
			for _, q := range r.Quantities([]Level{l}, r.Codes()) {
				if q.Quantity.IsNegative() || q.InStock != q.Quantity.IsPositive() {
					t.Fatalf("quantity %+v from %q/%q", q, avail, onhand)
				}
			}
		}
		if _, tier, err := ParsePrice(netsuite.Row{"item": item, "unitprice": price, "quantity": qty}); err == nil && tier.Price.IsNegative() {
			t.Fatalf("negative price %s parsed", tier.Price)
		}
	})
}

func FuzzCheckSKU(f *testing.F) {
	f.Add("MS09-M-Red")
	f.Add("a\nb")
	f.Add("\xc3")
	f.Fuzz(func(t *testing.T, s string) {
		if CheckSKU(s) == nil && strings.ContainsAny(s, "\r\n\x00") {
			t.Fatalf("SKU %q with a line break or NUL accepted", s)
		}
	})
}

// BenchmarkDiff is the per-SKU cost of a run's diff: compute the state
// from NetSuite's values and compare it with the published one, over a
// catalogue where 1 % changed.
func BenchmarkDiff(b *testing.B) {
	const n = 100_000
	r := Rules{Sources: map[string]string{"1": "us-east", "2": "us-west"}, Buffer: d("1")}
	codes := r.Codes()
	items := make([]Item, n)
	levels := make([][]Level, n)
	prices := make([]*decimal.Decimal, n)
	prev := make([]State, n)
	for i := range items {
		items[i] = Item{ID: fmt.Sprint(i + 1), Type: "InvtPart"}
		levels[i] = []Level{lv("1", fmt.Sprint(i%50), "0"), lv("2", fmt.Sprint(i%7), "0")}
		p := decimal.New(int64(1000+i%300), -2)
		prices[i] = &p
		prev[i] = Compute(items[i], levels[i], prices[i], "USD", r, codes)
		if i%100 == 0 {
			levels[i] = []Level{lv("1", fmt.Sprint(i%50+3), "0")}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	changed := 0
	for b.Loop() {
		changed = 0
		for i := range items {
			cur := Compute(items[i], levels[i], prices[i], "USD", r, codes)
			if Diff(prev[i], true, cur).Any() {
				changed++
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/sku")
	if changed != n/100 {
		b.Fatalf("%d changed, want %d", changed, n/100)
	}
}
