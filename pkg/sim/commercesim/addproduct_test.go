package commercesim

import (
	"testing"

	"github.com/shopspring/decimal"
)

func TestAddProductTakesWrites(t *testing.T) {
	s := NewTestServer(t, Config{})
	skus := []string{"with space", "a/b", "Größe-XL", "日本語"}
	for i, sku := range skus {
		s.AddProduct(sku, "odd "+sku, decimal.NewFromInt(int64(i+1)))
	}
	s.AddProduct("a/b", "renamed", decimal.NewFromInt(9)) // replaces, keeps one product
	rows := []any{}
	items := []any{}
	for _, sku := range skus {
		rows = append(rows, map[string]any{"sku": sku, "price": 5, "store_id": 0})
		items = append(items, map[string]any{"sku": sku, "source_code": "default", "quantity": 3, "status": 1})
	}
	if st, b := call(t, s, "POST", "/V1/products/base-prices", nil, map[string]any{"prices": rows}); st != 200 || string(b) != "[]" {
		t.Fatalf("base-prices: %d %s", st, b)
	}
	if st, b := call(t, s, "POST", "/V1/inventory/source-items", nil, map[string]any{"sourceItems": items}); st != 200 {
		t.Fatalf("source-items: %d %s", st, b)
	}
	for _, sku := range skus {
		if p, ok := s.ProductPrice(sku, 0); !ok || !p.Equal(decimal.NewFromInt(5)) {
			t.Errorf("%s price %v %v", sku, p, ok)
		}
		if q, ok := s.SourceQuantity(sku, "default"); !ok || !q.Equal(decimal.NewFromInt(3)) {
			t.Errorf("%s quantity %v %v", sku, q, ok)
		}
	}
	s.mu.Lock()
	ids := map[int]bool{}
	for _, p := range s.products {
		if ids[p.ID] {
			t.Errorf("product id %d used twice", p.ID)
		}
		ids[p.ID] = true
	}
	s.mu.Unlock()
}
