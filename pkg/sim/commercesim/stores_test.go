package commercesim

import (
	"encoding/json"
	"net/http"
	"testing"
)

// Orders are listed from every store whatever store code the URL names (the
// order repository does not filter by the store context), so a client must
// filter on store_id, which storeViews maps to codes.
func TestStoreViewsAndOrdersOfEveryStore(t *testing.T) {
	s := NewTestServer(t, Config{})
	mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	mustPlace(t, s, "uk", OrderSpec{Buyer: BuyerGuest})

	status, body := call(t, s, http.MethodGet, "/V1/store/storeViews", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("storeViews: %d %s", status, body)
	}
	var views []struct {
		ID   int    `json:"id"`
		Code string `json:"code"`
	}
	if err := json.Unmarshal(body, &views); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, v := range views {
		ids[v.Code] = v.ID
	}
	if ids["admin"] != 0 || ids["default"] != 1 || ids["uk"] != 2 {
		t.Fatalf("store views: %v", ids)
	}
	lr := list(t, s, "/V1/orders", newSearch().page(10, 1).Values)
	if lr.Total != 2 {
		t.Fatalf("orders through one store code: %d, want both stores' 2", lr.Total)
	}
}

func TestFirstNumber(t *testing.T) {
	s := NewTestServer(t, Config{FirstNumber: 5000})
	o := mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	u := mustPlace(t, s, "uk", OrderSpec{Buyer: BuyerGuest})
	if o.IncrementID != "000005000" || u.IncrementID != "2000005000" {
		t.Fatalf("increment ids %s %s", o.IncrementID, u.IncrementID)
	}
}
