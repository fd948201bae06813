package netsuitesim

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/shopspring/decimal"
)

// The catalogue tables are cached between queries; every change to items,
// prices or stock must show in the next query.
func TestCatalogueQueriesSeeChanges(t *testing.T) {
	e := newEnv(t, Config{})
	rows := func(q string, params ...string) []map[string]any {
		t.Helper()
		var out []map[string]any
		for _, it := range e.mustStatus(e.suiteql(1000, 0, q, params...), http.StatusOK).json(t)["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		return out
	}
	stockQ := "SELECT a.item, a.location, a.quantityavailable FROM aggregateItemLocation a WHERE a.item > ? ORDER BY a.item, a.location"
	priceQ := "SELECT p.item, p.unitprice FROM pricing p WHERE p.pricelevel = ? AND p.currency = ? AND p.item = ?"
	if r := rows(stockQ, "100"); len(r) != 8 || r[0]["quantityavailable"] != "40" {
		t.Fatalf("stock %v", r)
	}
	e.s.SetStock("101", "1", 40, 31)
	e.s.SetStock("101", "2", 5, 5)
	r := rows(stockQ, "100")
	if len(r) != 9 || r[0]["quantityavailable"] != "31" || r[1]["location"] != "2" {
		t.Fatalf("stock after SetStock %v", r)
	}
	e.s.SetPrice("104", "1", "1", decimal.RequireFromString("44.5"))
	e.s.SetPrice("104", "1", "1", decimal.RequireFromString("43"))
	if r := rows(priceQ, "1", "1", "104"); len(r) != 1 || r[0]["unitprice"] != "43" {
		t.Fatalf("price after SetPrice %v", r)
	}
	// Stock rows depend on the items too: a type change shows.
	invQ := "SELECT item FROM inventoryitemlocations WHERE item > ? ORDER BY item"
	if r := rows(invQ, "100"); len(r) != 9 {
		t.Fatalf("inventory item locations %v", r)
	}
	e.s.AddItem(Item{ID: "101", ItemID: "MS09-M-Red", Type: "Kit"})
	if r := rows(invQ, "100"); len(r) != 7 || r[0]["item"] != "102" {
		t.Fatalf("inventory item locations after a type change %v", r)
	}
	e.s.AddItem(Item{ID: "5000", ItemID: "NEW"})
	if r := rows("SELECT id, itemid FROM item WHERE id > ? ORDER BY id", "4999"); len(r) != 1 || r[0]["itemid"] != "NEW" {
		t.Fatalf("item after AddItem %v", r)
	}
	// Numeric order of ids, also when unsorted input must be sorted.
	if r := rows("SELECT id FROM item WHERE id > ? ORDER BY id DESC", "200"); fmt.Sprintf("%v %v", r[0]["id"], r[len(r)-1]["id"]) != "5000 201" {
		t.Fatalf("descending ids %v", r)
	}
}

func TestPlainInt(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "42": 42, "-7": -7, "007": 7, "999999999999999999": 999999999999999999} {
		if n, ok := plainInt(s); !ok || n != want {
			t.Errorf("%q: %d %v", s, n, ok)
		}
	}
	for _, s := range []string{"", "-", "1.5", "1e3", " 1", "x", "9999999999999999999", "--1"} {
		if _, ok := plainInt(s); ok {
			t.Errorf("%q parsed", s)
		}
	}
	if compareValues("10", "9") <= 0 || compareValues("1.50", "1.5") != 0 || compareValues("b", "a") <= 0 {
		t.Fatal("compareValues")
	}
}

// The keyset fast path answers exactly what filtering and sorting the
// whole table answers, for every cursor, with other conditions, ties on
// the key (an item at several locations) and a >= cursor.
func TestKeysetPathMatchesFullScan(t *testing.T) {
	e := newEnv(t, Config{})
	for i := range 60 {
		id := fmt.Sprint(300 + i*3)
		e.s.AddItem(Item{ID: id, ItemID: "K" + id, Inactive: i%4 == 0})
		e.s.SetPrice(id, "1", "1", decimal.NewFromInt(int64(i)))
		if i%5 != 0 {
			e.s.SetPrice(id, "2", "1", decimal.NewFromInt(int64(i*2)))
		}
		for loc := range i % 3 {
			e.s.SetStock(id, fmt.Sprint(loc+1), i, i-loc)
		}
	}
	queries := []struct {
		q      string
		params []string
	}{
		{"SELECT id, itemid FROM item WHERE id > ? ORDER BY id", nil},
		{"SELECT id, itemid FROM item WHERE isinactive = 'F' AND id > ? ORDER BY id", nil},
		{"SELECT id FROM item WHERE id >= ? ORDER BY id, itemid", nil},
		{"SELECT a.item, a.location FROM aggregateItemLocation a WHERE a.item > ? ORDER BY a.item, a.location DESC", nil},
		{"SELECT p.item, p.unitprice FROM pricing p WHERE p.pricelevel = ? AND p.currency = ? AND p.item > ? ORDER BY p.item, p.quantity", []string{"2", "1"}},
	}
	for _, qq := range queries {
		for _, cursor := range []string{"0", "299", "300", "301", "330", "450", "476", "477", "9999"} {
			params := append(append([]string(nil), qq.params...), cursor)
			q, apiErr := parseSuiteQL(qq.q, params)
			if apiErr != nil {
				t.Fatal(apiErr)
			}
			e.s.mu.Lock()
			rows := e.s.cachedRowsLocked(q.table)
			fast, ok := e.s.keysetRowsLocked(q, rows)
			e.s.mu.Unlock()
			if !ok {
				t.Fatalf("%s: no keyset path", qq.q)
			}
			if slow := q.match(rows, -1); fmt.Sprint(slow) != fmt.Sprint(fast) {
				t.Fatalf("%s cursor %s:\nfast %v\nslow %v", qq.q, cursor, fast, slow)
			}
		}
	}
	// Not for tables the version does not cover.
	q, _ := parseSuiteQL("SELECT id FROM customer WHERE id > ? ORDER BY id", []string{"0"})
	if _, ok := e.s.keysetRowsLocked(q, nil); ok {
		t.Fatal("keyset path on the customer table")
	}
}
