package netsuitesim

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestSuiteQLRules(t *testing.T) {
	e := newEnv(t, Config{})
	q := "SELECT id, itemid FROM item ORDER BY id"
	// Prefer: transient is required.
	r := e.mustStatus(e.do("POST", "/services/rest/query/v1/suiteql?limit=10&offset=0", map[string]any{"q": q}), http.StatusBadRequest)
	if r.errorDetail(t)["o:errorHeader"] != "Prefer" {
		t.Fatalf("%s", r.body)
	}
	for _, tc := range []struct{ limit, offset, status int }{
		{1000, 0, 200}, {1001, 0, 400}, {5, 3, 400}, {5, 10, 200}, {1000, 99000, 200}, {1000, 99500, 400}, {1000, 100000, 400},
	} {
		if r := e.suiteql(tc.limit, tc.offset, q); r.status != tc.status {
			t.Errorf("limit %d offset %d: %d, want %d: %s", tc.limit, tc.offset, r.status, tc.status, r.body)
		}
	}
	m := e.mustStatus(e.suiteql(5, 0, q), http.StatusOK).json(t)
	if m["count"] != float64(5) || m["hasMore"] != true || m["totalResults"] != float64(12) || m["offset"] != float64(0) {
		t.Fatalf("envelope %v", m)
	}
	var next string
	for _, l := range m["links"].([]any) {
		if lm := l.(map[string]any); lm["rel"] == "next" {
			next = lm["href"].(string)
		}
	}
	if !strings.Contains(next, "offset=5") || !strings.Contains(next, "limit=5") {
		t.Fatalf("next link %q", next)
	}
	row := m["items"].([]any)[0].(map[string]any)
	if row["id"] != "101" || row["itemid"] != "MS09-M-Red" || row["links"] == nil {
		t.Fatalf("row %v", row)
	}
	// Unsupported shapes fail loudly.
	for _, bad := range []string{
		"SELECT i.id FROM item i JOIN pricing p ON p.item = i.id",
		"SELECT id FROM item WHERE id = 1 OR id = 2",
		"SELECT nosuchcolumn FROM item",
		"SELECT id FROM nosuchtable",
		"DELETE FROM item",
		"SELECT TO_CHAR(lastmodifieddate, 'YYYY') FROM item",
	} {
		r := e.suiteql(10, 0, bad)
		if r.status != http.StatusBadRequest || r.errorCode(t) != "INVALID_PARAMETER" {
			t.Errorf("%q: %d %s", bad, r.status, r.body)
		}
	}
	// Placeholder count must match params.
	e.mustStatus(e.suiteql(10, 0, "SELECT id FROM item WHERE id > ?"), http.StatusBadRequest)
	e.mustStatus(e.suiteql(10, 0, "SELECT id FROM item", "1"), http.StatusBadRequest)
}

func TestSuiteQLKeysetOverManyItems(t *testing.T) {
	e := newEnv(t, Config{NoDefaultData: true})
	const n = 2500
	for i := 1; i <= n; i++ {
		id := strconv.Itoa(i * 3) // sparse ids
		e.s.AddItem(Item{ID: id, ItemID: "SKU-" + id, Inactive: i%100 == 0, UPC: "0" + id})
	}
	q := "SELECT id, itemid, displayname, upccode, externalid, itemtype, isinactive FROM item WHERE id > ? ORDER BY id"
	last, seen, pages := "0", 0, 0
	for {
		m := e.mustStatus(e.suiteql(1000, 0, q, last), http.StatusOK).json(t)
		items := m["items"].([]any)
		pages++
		for _, it := range items {
			row := it.(map[string]any)
			seen++
			if want := strconv.Itoa(seen * 3); row["id"] != want {
				t.Fatalf("row %d id %v, want %s", seen, row["id"], want)
			}
			if row["isinactive"] != "F" && row["isinactive"] != "T" {
				t.Fatalf("boolean %v", row["isinactive"])
			}
			if _, ok := row["externalid"]; ok {
				t.Fatal("null column must be absent")
			}
			last = row["id"].(string)
		}
		if m["hasMore"] == false || len(items) < 1000 {
			break
		}
	}
	if seen != n || pages != 3 {
		t.Fatalf("seen %d in %d pages", seen, pages)
	}
	// Filter on a boolean literal together with keyset.
	m := e.mustStatus(e.suiteql(1000, 0, "SELECT id FROM item WHERE isinactive = 'F' AND id > ? ORDER BY id", "0"), http.StatusOK).json(t)
	if m["totalResults"] != float64(n-25) {
		t.Fatalf("active %v", m["totalResults"])
	}
}

func TestSuiteQLStockPricesCustomersTransactions(t *testing.T) {
	e := newEnv(t, Config{})
	e.s.SetStock("101", "2", 7, 5)
	e.s.SetPrice("101", "2", "2", decimal.RequireFromString("27.50"))
	m := e.mustStatus(e.suiteql(1000, 0,
		"SELECT a.item, a.location, a.quantityonhand, a.quantityavailable, a.quantitycommitted, a.quantityonorder, a.quantitybackordered FROM aggregateItemLocation a WHERE a.item IN (101, 102) ORDER BY a.item, a.location"), http.StatusOK).json(t)
	items := m["items"].([]any)
	if len(items) != 3 {
		t.Fatalf("stock rows %v", items)
	}
	r := items[1].(map[string]any)
	if r["item"] != "101" || r["location"] != "2" || r["quantityonhand"] != "7" || r["quantityavailable"] != "5" || r["quantitycommitted"] != "2" {
		t.Fatalf("stock row %v", r)
	}
	m = e.mustStatus(e.suiteql(1000, 0, "SELECT item, location, quantityavailable FROM inventoryitemlocations WHERE item > ? ORDER BY item", "105"), http.StatusOK).json(t)
	if m["totalResults"] != float64(3) { // 106, 107, 108 (the kit and non-inventory items have no rows)
		t.Fatalf("inventoryitemlocations %v", m)
	}
	m = e.mustStatus(e.suiteql(1000, 0, "SELECT item, pricelevel, unitprice, quantity, currency FROM pricing WHERE item = ?", "101"), http.StatusOK).json(t)
	if m["count"] != float64(2) {
		t.Fatalf("pricing %v", m)
	}
	for _, it := range m["items"].([]any) {
		p := it.(map[string]any)
		if p["currency"] == "2" && p["unitprice"] != "27.5" || p["currency"] == "1" && p["unitprice"] != "32" {
			t.Fatalf("price row %v", p)
		}
	}
	cust := e.createCustomer("c1", "2")
	m = e.mustStatus(e.suiteql(1000, 0, "SELECT id, entityid, email, subsidiary FROM customer WHERE (LOWER(email) = LOWER(?))", "C1@Example.COM"), http.StatusOK).json(t)
	if items := m["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != cust || items[0].(map[string]any)["subsidiary"] != "2" {
		t.Fatalf("customer by email %v", m)
	}
	m = e.mustStatus(e.suiteql(1000, 0, "SELECT id, name, parent FROM subsidiary ORDER BY id"), http.StatusOK).json(t)
	if m["count"] != float64(3) || m["items"].([]any)[2].(map[string]any)["name"] != "UK Store" {
		t.Fatalf("subsidiaries %v", m)
	}
	e.mustStatus(e.do("PUT", rec+"salesOrder/eid:so1", orderBody(cust, line("101", 1, "32"))), http.StatusNoContent)
	m = e.mustStatus(e.suiteql(1000, 0, "SELECT id FROM transaction WHERE externalid = ?", "so1"), http.StatusOK).json(t)
	soID := m["items"].([]any)[0].(map[string]any)["id"].(string)
	for i := 0; i < 2; i++ {
		e.mustStatus(e.do("POST", rec+"salesOrder/"+soID+"/!transform/invoice", nil), http.StatusNoContent)
	}
	m = e.mustStatus(e.suiteql(1000, 0, "SELECT id FROM transaction WHERE type = 'CustInvc' AND createdfrom = ? ORDER BY id", soID), http.StatusOK).json(t)
	if m["count"] != float64(2) {
		t.Fatalf("invoices by createdfrom %v", m)
	}
	m = e.mustStatus(e.suiteql(1000, 0, "SELECT COUNT(*) AS count FROM transaction WHERE type = 'SalesOrd'"), http.StatusOK).json(t)
	if m["items"].([]any)[0].(map[string]any)["count"] != "1" {
		t.Fatalf("count %v", m)
	}
}

func FuzzParseSuiteQL(f *testing.F) {
	f.Add("SELECT id, itemid FROM item WHERE id > ? ORDER BY id", "0")
	f.Add("SELECT a.item FROM aggregateItemLocation a WHERE a.item IN (?, 2)", "1")
	f.Add("SELECT id FROM customer WHERE LOWER(email) = LOWER(?)", "x@y")
	f.Add("SELECT id FROM transaction WHERE type = 'CustInvc' AND createdfrom = ?", "5")
	f.Add("SELECT 'unterminated FROM item", "")
	f.Add("SELECT id FROM item WHERE id = $7", "")
	f.Fuzz(func(t *testing.T, q, p string) {
		parsed, e := parseSuiteQL(q, []string{p})
		if (parsed == nil) == (e == nil) {
			t.Fatalf("parse(%q) = %v, %v", q, parsed, e)
		}
		if parsed != nil {
			for _, c := range parsed.conds {
				c(map[string]string{"id": "1", "item": "2", "email": p})
			}
		}
	})
}

func TestSuiteQLWithoutOrderByIsNotIDOrder(t *testing.T) {
	e := newEnv(t, Config{})
	m := e.mustStatus(e.suiteql(1000, 0, "SELECT id FROM item"), http.StatusOK).json(t)
	items := m["items"].([]any)
	sorted := true
	for i := 1; i < len(items); i++ {
		a, _ := strconv.Atoi(items[i-1].(map[string]any)["id"].(string))
		b, _ := strconv.Atoi(items[i].(map[string]any)["id"].(string))
		sorted = sorted && a < b
	}
	if sorted || len(items) != 12 {
		t.Fatalf("unordered query came back in id order: %v", items)
	}
	again := e.mustStatus(e.suiteql(1000, 0, "SELECT id FROM item"), http.StatusOK).json(t)
	if len(again["items"].([]any)) != 12 || again["items"].([]any)[0].(map[string]any)["id"] != items[0].(map[string]any)["id"] {
		t.Fatal("unordered results must be deterministic")
	}
}
