package netsuitesim

import (
	"net/http"
	"testing"
)

// Price levels (SELECT id, name FROM pricelevel) are what `mlc settings
// check` verifies a configured price level against.
func TestSuiteQLPriceLevels(t *testing.T) {
	e := newEnv(t, Config{})
	e.s.AddPriceLevel("5", "Online Price")
	m := e.mustStatus(e.suiteql(1000, 0, "SELECT id, name, isinactive FROM pricelevel WHERE id > ? ORDER BY id", "0"), http.StatusOK).json(t)
	items := m["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("price levels %v", items)
	}
	first, second := items[0].(map[string]any), items[1].(map[string]any)
	if first["id"] != "1" || first["name"] != "Base Price" || first["isinactive"] != "F" || second["id"] != "5" || second["name"] != "Online Price" {
		t.Fatalf("price levels %v", items)
	}
	e.mustStatus(e.suiteql(10, 0, "SELECT discountpct FROM pricelevel"), http.StatusBadRequest)
}
