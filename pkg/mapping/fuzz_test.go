package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/commercefact"
)

// FuzzMap feeds arbitrary REST orders and mapping settings through the
// whole entry point: decode as the client does, read the canonical fact,
// resolve the settings, Map. Nothing may panic; every error is one of
// Map's kinds; a command validates, encodes valid JSON and is the same
// bytes when mapped again.
func FuzzMap(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "fixtures", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var fx fixture
		if err := json.Unmarshal(b, &fx); err != nil || len(fx.Order) == 0 {
			continue
		}
		f.Add([]byte(fx.Order), []byte(fx.Settings), []byte(fx.StoreSettings))
	}
	f.Add([]byte(`{"increment_id":"1","order_currency_code":"USD","items":[{"item_id":1,"sku":"WB04","qty_ordered":1,"price":1e400}]}`), []byte(`{}`), []byte(`{}`))
	f.Add([]byte(`{"increment_id":"1","items":[{"item_id":1,"parent_item_id":1,"sku":"","qty_ordered":-1}]}`), []byte(`{"discounts":"line_item","discount_item":"1"}`), []byte(``))
	items := testItems()
	f.Fuzz(func(t *testing.T, order, base, over []byte) {
		var ro commerce.Order
		if json.Unmarshal(order, &ro) != nil {
			return
		}
		fact, err := commercefact.OrderFact("default", ro)
		if err != nil {
			return
		}
		var bs, os Settings
		if len(base) > 0 && json.Unmarshal(base, &bs) != nil {
			return
		}
		if len(over) > 0 && json.Unmarshal(over, &os) != nil {
			return
		}
		rules, err := Resolve(Merge(bs, os))
		if err != nil {
			return
		}
		in := Input{Fact: fact, Rules: rules, OneWorld: true, Subsidiary: "2", Items: items}
		cmd, err := Map(in)
		if err != nil {
			if !errors.Is(err, ErrUnmappable) && !errors.Is(err, ErrIncomplete) && !errors.Is(err, ErrSkipped) {
				t.Fatalf("Map error of no known kind: %v", err)
			}
			return
		}
		if _, err := cmd.Data(); err != nil {
			t.Fatalf("command does not validate: %v", err)
		}
		if !json.Valid(cmd.Record) || !json.Valid(cmd.Customer.Record) {
			t.Fatalf("invalid JSON record: %s", cmd.Record)
		}
		again, err := Map(in)
		if err != nil || !bytes.Equal(again.Record, cmd.Record) || again.ContentHash() != cmd.ContentHash() {
			t.Fatalf("mapping the same input twice differs: %v", err)
		}
		if !cmd.Totals.Variance.Equal(cmd.Totals.NetSuiteTotal.Sub(cmd.Totals.CommerceTotal)) {
			t.Fatalf("variance %s != %s - %s", cmd.Totals.Variance, cmd.Totals.NetSuiteTotal, cmd.Totals.CommerceTotal)
		}
	})
}

// fiveLines is a realistic 5-line order: the first five lines of the
// 100-line fixture, with a registered buyer and both addresses.
func fiveLines(b *testing.B) Input {
	in, _ := loadInput(b, "hundred_lines")
	o := *in.Fact.Order
	o.Lines = o.Lines[:5]
	in.Fact.Order = &o
	return in
}

// BenchmarkMapOrder is the mapping alone, one core: go test -run x -bench
// MapOrder -cpu 1 ./mapping/ (the issue asks for >= 20,000 orders/s).
func BenchmarkMapOrder(b *testing.B) {
	in := fiveLines(b)
	if _, err := Map(in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Map(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}

// BenchmarkMapOrder100 maps the 100-line order.
func BenchmarkMapOrder100(b *testing.B) {
	in, _ := loadInput(b, "hundred_lines")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Map(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
