package commerce

import (
	"encoding/json"
	"strings"
	"testing"
)

// Error bodies come from outside: parsing and rendering must never panic,
// and a list-rendered message never keeps a placeholder it had a value for.
func FuzzNewError(f *testing.F) {
	for _, s := range []string{`{"message":"Invalid product data: %1","parameters":["x"]}`,
		`{"message":"%resources","parameters":{"resources":"R"}}`, `{"message":"%1%10","parameters":[1,2,3,4,5,6,7,8,9,10]}`,
		`{"message":"m","parameters":null,"errors":[{"message":"%a","parameters":{"a":{}}}],"code":"x"}`, `<html>`, ``} {
		f.Add([]byte(s), 400)
	}
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		e := newError("GET", "V1/x", status, body, nil)
		_ = e.Error()
		_ = e.Temporary()
		var w struct {
			Message    string   `json:"message"`
			Parameters []string `json:"parameters"`
		}
		if json.Unmarshal(body, &w) == nil && len(w.Parameters) == 1 && !strings.Contains(w.Parameters[0], "%1") &&
			strings.Contains(w.Message, "%1") && !strings.Contains(w.Message, "%1"+"0") && strings.Contains(e.Rendered, "%1") &&
			!strings.Contains(w.Parameters[0], "%") {
			t.Fatalf("%%1 left in %q (params %q)", e.Rendered, w.Parameters)
		}
	})
}

// REST answers decode into our types without panics in the tolerant scalars.
func FuzzRESTTypes(f *testing.F) {
	for _, s := range []string{`{"entity_id":"3","increment_id":"1","customer_is_guest":"1","updated_at":"2017-08-21 22:22:19","extension_attributes":[]}`,
		`{"items":[{"state":"2","updated_at":null}],"total_count":1}`, `{"id":1,"addresses":[{"region":"x"},{"region":[]}]}`,
		`{"operations_list":[{"id":0,"status":4,"error_code":null}],"operation_count":"1"}`, `{"entity_id":1e308}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var o Order
		_ = json.Unmarshal(b, &o)
		_ = o.ShippingAddress()
		var r SearchResult[Invoice]
		_ = json.Unmarshal(b, &r)
		var c Customer
		_ = json.Unmarshal(b, &c)
		var st BulkStatus
		if json.Unmarshal(b, &st) == nil {
			_ = st.Done()
			_ = st.Failed()
		}
		var cur Cursor
		if json.Unmarshal(b, &cur) == nil {
			again, err := json.Marshal(cur)
			var back Cursor
			if err != nil || json.Unmarshal(again, &back) != nil || !back.UpdatedAt.Equal(cur.UpdatedAt.Truncate(1e9)) {
				if cur.UpdatedAt.Year() >= 0 && cur.UpdatedAt.Year() <= 9999 && cur.UpdatedAt.Nanosecond() == 0 {
					t.Fatalf("cursor %v does not round-trip: %s", cur, again)
				}
			}
		}
	})
}
