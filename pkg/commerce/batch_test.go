package commerce

import (
	"errors"
	"slices"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

func batchClient(t *testing.T, s *commercesim.Server, size int) *Client {
	t.Helper()
	auth, err := NewOAuth1(simCreds())
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(s.StoreBaseURL("all"), PaaS, auth, append(fast(), WithBatchSize(size))...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Commerce refuses a whole source-items request for one unknown SKU; the
// client sends the other rows again, so one bad row never blocks a chunk.
func TestSourceItemsUnknownSKUDoesNotBlockTheChunk(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 21, InputLimits: true})
	c := batchClient(t, s, 20)
	var items []SourceItem
	for i, sku := range catalogSKUs {
		items = append(items, SourceItem{SKU: sku, SourceCode: "default", Quantity: decimal.NewFromInt(int64(100 + i)), InStock: true})
		if i == 2 {
			items = append(items, SourceItem{SKU: "NOPE-1", SourceCode: "default", Quantity: decimal.NewFromInt(1), InStock: true})
		}
	}
	items = append(items, SourceItem{SKU: "NOPE-2", SourceCode: "default", Quantity: decimal.NewFromInt(1), InStock: true},
		SourceItem{SKU: "WB04", SourceCode: "no-such-source", Quantity: decimal.NewFromInt(1), InStock: true})
	err := c.UpdateSourceItems(t.Context(), items)
	var pf *PartialFailureError
	if !errors.Is(err, ErrPartialFailure) || !errors.As(err, &pf) || pf.Total != len(items) {
		t.Fatalf("want a partial failure: %v", err)
	}
	skus := pf.SKUs()
	slices.Sort(skus)
	if !slices.Equal(skus, []string{"NOPE-1", "NOPE-2", "WB04"}) {
		t.Fatalf("rejected %v: %v", skus, err)
	}
	for i, sku := range catalogSKUs {
		if q, ok := s.SourceQuantity(sku, "default"); !ok || !q.Equal(decimal.NewFromInt(int64(100+i))) {
			t.Errorf("%s: quantity %v %v, want %d", sku, q, ok, 100+i)
		}
	}
}

// A chunk over Commerce's input limit is refused whole (400, no row named):
// each row is then sent alone and every one is saved.
func TestBasePricesChunkRefusedWholeIsSentRowByRow(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 22, InputLimits: true})
	c := batchClient(t, s, 25)
	var rows []BasePrice
	for i := range 25 {
		rows = append(rows, BasePrice{SKU: catalogSKUs[i%len(catalogSKUs)], Price: decimal.New(int64(500+i), -2)})
	}
	rows[24] = BasePrice{SKU: "NOPE", Price: decimal.NewFromInt(1)}
	err := c.UpdateBasePrices(t.Context(), rows)
	var pf *PartialFailureError
	if !errors.As(err, &pf) || !slices.Equal(pf.SKUs(), []string{"NOPE"}) {
		t.Fatalf("want NOPE rejected: %v", err)
	}
	last := rows[23]
	if p, _ := s.ProductPrice(last.SKU, 0); !p.Equal(last.Price) {
		t.Fatalf("%s price %v, want %v", last.SKU, p, last.Price)
	}
}

func TestBulkBasePricesRejectedRows(t *testing.T) {
	s := commercesim.NewTestServer(t, commercesim.Config{Seed: 23})
	c := batchClient(t, s, 2)
	rows := []BasePrice{{SKU: "WB04", Price: decimal.NewFromInt(41)}, {SKU: "NOPE", Price: decimal.NewFromInt(1)}, {SKU: "24-MB01", Price: decimal.NewFromInt(31)}}
	acc, err := c.BulkUpdateBasePrices(t.Context(), rows)
	if err != nil || len(acc.RequestItems) != 2 {
		t.Fatalf("submit: %+v %v", acc, err)
	}
	st, err := c.WaitBulk(t.Context(), acc.BulkUUID)
	if err != nil || len(st.Operations) != 2 {
		t.Fatalf("wait: %+v %v", st, err)
	}
	var rejected []ItemFailure
	for _, op := range st.Operations {
		f, err := op.RejectedRows([]string{"WB04", "NOPE", "24-MB01"})
		if err != nil {
			t.Fatal(err)
		}
		rejected = append(rejected, f...)
	}
	if len(rejected) != 1 || rejected[0].SKU != "NOPE" {
		t.Fatalf("rejected %+v", rejected)
	}
	if p, _ := s.ProductPrice("24-MB01", 0); !p.Equal(decimal.NewFromInt(31)) {
		t.Fatalf("24-MB01 price %v", p)
	}
	if _, err := (BulkOperation{Result: "{oops"}).RejectedRows(nil); err == nil {
		t.Fatal("a result that is not JSON was read")
	}
}
