package commercesim

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"
)

type listResp struct {
	Items []map[string]any
	Total int
}

func list(t *testing.T, s *Server, path string, q url.Values) listResp {
	t.Helper()
	if q == nil {
		q = url.Values{"searchCriteria": {""}} // the idiom for "everything"
	}
	st, b := call(t, s, "GET", path, q, nil)
	if st != 200 {
		t.Fatalf("GET %s: %d %s", path, st, b)
	}
	m := decode(t, b)
	var lr listResp
	for _, it := range m["items"].([]any) {
		lr.Items = append(lr.Items, it.(map[string]any))
	}
	lr.Total = int(m["total_count"].(float64))
	if _, ok := m["search_criteria"]; !ok {
		t.Fatal("no search_criteria echo")
	}
	return lr
}

func incrs(lr listResp) []string {
	var out []string
	for _, it := range lr.Items {
		out = append(out, it["increment_id"].(string))
	}
	return out
}

func TestSearchPagingRepeatsLastPage(t *testing.T) {
	s := NewTestServer(t, Config{})
	for range 7 {
		mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	}
	var seen []string
	for page := 1; page <= 3; page++ {
		lr := list(t, s, "/V1/orders", newSearch().sort(0, "entity_id", "ASC").page(3, page).Values)
		if lr.Total != 7 {
			t.Fatalf("total %d", lr.Total)
		}
		seen = append(seen, incrs(lr)...)
	}
	if len(seen) != 7 || seen[0] != "000000001" || seen[6] != "000000007" {
		t.Fatalf("pages %v", seen)
	}
	// Beyond the last page: the last page again, never an empty list.
	lr := list(t, s, "/V1/orders", newSearch().sort(0, "entity_id", "ASC").page(3, 99).Values)
	if got := incrs(lr); len(got) != 1 || got[0] != "000000007" {
		t.Fatalf("page 99: %v", got)
	}
	// No pageSize: everything.
	if lr := list(t, s, "/V1/orders", nil); len(lr.Items) != 7 {
		t.Fatalf("no page size: %d items", len(lr.Items))
	}
}

func TestSearchOrWithinAndAcross(t *testing.T) {
	s := NewTestServer(t, Config{})
	for range 3 {
		mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
		mustPlace(t, s, "uk", OrderSpec{Buyer: BuyerGuest})
	}
	// (increment_id = 000000001 OR increment_id = 2000000002) AND store_id = 2
	q := newSearch().
		filter(0, 0, "increment_id", "000000001", "eq").
		filter(0, 1, "increment_id", "2000000002", "eq").
		filter(1, 0, "store_id", "2", "eq")
	if got := incrs(list(t, s, "/V1/orders", q.Values)); len(got) != 1 || got[0] != "2000000002" {
		t.Fatalf("AND/OR: %v", got)
	}
	// Same filters in one group: OR only.
	q = newSearch().
		filter(0, 0, "increment_id", "000000001", "eq").
		filter(0, 1, "increment_id", "2000000002", "eq").
		filter(0, 2, "store_id", "2", "eq")
	if lr := list(t, s, "/V1/orders", q.Values); lr.Total != 4 {
		t.Fatalf("OR: %d", lr.Total)
	}
	cases := []struct {
		field, value, cond string
		want               int
	}{
		{"entity_id", "3", "gt", 3},
		{"entity_id", "3", "gteq", 4},
		{"entity_id", "3", "lt", 2},
		{"entity_id", "3", "lteq", 3},
		{"entity_id", "3", "neq", 5},
		{"entity_id", "1,3,5", "in", 3},
		{"entity_id", "1,3,5", "nin", 3},
		{"increment_id", "2%", "like", 3},
		{"customer_id", "", "null", 6},
		{"customer_id", "", "notnull", 0},
		{"entity_id", "2", "from", 5},
		{"entity_id", "2", "to", 2},
		{"order_currency_code", "gbp", "eq", 3}, // case-insensitive like MySQL
	}
	for _, c := range cases {
		lr := list(t, s, "/V1/orders", newSearch().filter(0, 0, c.field, c.value, c.cond).Values)
		if lr.Total != c.want {
			t.Errorf("%s %s %s: %d want %d", c.field, c.cond, c.value, lr.Total, c.want)
		}
	}
	if st, _ := call(t, s, "GET", "/V1/orders", newSearch().filter(0, 0, "entity_id", "1", "bogus").Values, nil); st != 400 {
		t.Errorf("bad condition: %d", st)
	}
}

func TestSearchMultipleSortOrders(t *testing.T) {
	s := NewTestServer(t, Config{})
	for range 2 {
		mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
		mustPlace(t, s, "uk", OrderSpec{Buyer: BuyerGuest})
	}
	q := newSearch().sort(0, "store_id", "DESC").sort(1, "entity_id", "ASC")
	got := incrs(list(t, s, "/V1/orders", q.Values))
	want := []string{"2000000001", "2000000002", "000000001", "000000002"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
}

func TestSearchKeysetPollOnUpdatedAt(t *testing.T) {
	s := NewTestServer(t, Config{})
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := base
	s.SetClock(func() time.Time { return now })
	ctx := context.Background()
	a := mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	now = now.Add(time.Minute)
	mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	now = now.Add(time.Minute)
	if err := s.UpdateOrderStatus(ctx, a.EntityID, "processing"); err != nil {
		t.Fatal(err)
	}
	// The real server checks OAuth timestamps against its clock.
	s.SetClock(nil)
	q := newSearch().filter(0, 0, "updated_at", "2026-01-02 03:05:05", "gteq").sort(0, "updated_at", "ASC").sort(1, "entity_id", "ASC")
	lr := list(t, s, "/V1/orders", q.Values)
	if got := incrs(lr); len(got) != 2 || got[1] != a.IncrementID || lr.Items[1]["updated_at"] != "2026-01-02 03:06:05" ||
		lr.Items[1]["created_at"] != "2026-01-02 03:04:05" || lr.Items[1]["status"] != "processing" {
		t.Fatalf("got %v %v", got, lr.Items)
	}
}

func TestSearchInputLimits(t *testing.T) {
	s := NewTestServer(t, Config{InputLimits: true})
	for range 25 {
		mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	}
	if lr := list(t, s, "/V1/orders", nil); len(lr.Items) != 20 || lr.Total != 25 {
		t.Fatalf("default page size: %d/%d", len(lr.Items), lr.Total)
	}
	if st, b := call(t, s, "GET", "/V1/orders", newSearch().page(301, 1).Values, nil); st != 400 {
		t.Fatalf("pageSize 301: %d %s", st, b)
	}
	prices := make([]map[string]any, 21)
	for i := range prices {
		prices[i] = map[string]any{"sku": "WB04", "price": 1, "store_id": 0}
	}
	if st, b := call(t, s, "POST", "/V1/products/base-prices", nil, map[string]any{"prices": prices}); st != 400 {
		t.Fatalf("21 prices: %d %s", st, b)
	}
}

func TestSearchCriteriaRequiredAndSparseFields(t *testing.T) {
	s := NewTestServer(t, Config{})
	mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	st, b := call(t, s, "GET", "/V1/orders", nil, nil)
	if st != 400 || !strings.Contains(string(b), `"fieldName":"searchCriteria"`) {
		t.Fatalf("missing searchCriteria: %d %s", st, b)
	}
	q := newSearch().page(10, 1)
	q.Set("fields", "items[entity_id,increment_id,updated_at],total_count")
	st, b = call(t, s, "GET", "/V1/orders", q.Values, nil)
	if st != 200 || !strings.HasPrefix(string(b), `{"items":[{"entity_id":1,"increment_id":"000000001","updated_at":"`) ||
		!strings.HasSuffix(string(b), `"}],"total_count":1}`) {
		t.Fatalf("sparse: %d %s", st, b)
	}
}
