package netsuitesim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func TestInspectionEndpoints(t *testing.T) {
	e := newEnv(t, Config{})
	cust := e.createCustomer("c1", "")
	e.mustStatus(e.do("PUT", rec+"salesOrder/eid:so1", orderBody(cust, line("101", 2, "32"))), http.StatusNoContent)

	var st Stats
	getJSON(t, e.s.URL()+"/_sim/stats", &st)
	if st.TokensIssued != 1 || st.Requests != 3 || st.DuplicateExternalIDs == nil || len(st.DuplicateExternalIDs) != 0 {
		t.Fatalf("stats %+v", st)
	}
	var recs []Record
	getJSON(t, e.s.URL()+"/_sim/records/salesOrder", &recs)
	if len(recs) != 1 || recs[0].ExternalID != "so1" || len(sublistItems(recs[0].Fields["item"])) != 1 {
		t.Fatalf("records %+v", recs)
	}
	getJSON(t, e.s.URL()+"/_sim/records/inventoryItem", &recs)
	if len(recs) != 8 {
		t.Fatalf("%d inventory items", len(recs))
	}
	var reqs []RequestLog
	getJSON(t, e.s.URL()+"/_sim/requests", &reqs)
	if len(reqs) != 4 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs {
		if a := r.Header["Authorization"]; len(a) > 0 && a[0] != "REDACTED" {
			t.Fatalf("authorization leaked: %v", a)
		}
		if strings.Contains(r.Body, "client_assertion") || strings.Contains(r.Body, e.token) {
			t.Fatalf("credential in log: %s", r.Body)
		}
	}
	last := reqs[len(reqs)-1]
	if last.Method != "PUT" || last.Path != rec+"salesOrder/eid:so1" || last.Status != http.StatusNoContent || !strings.Contains(last.Body, `"orderStatus":"B"`) {
		t.Fatalf("last request %+v", last)
	}
	if got := e.s.Requests(); len(got) != 4 {
		t.Fatalf("Requests() %d", len(got))
	}

	resp, err := http.Post(e.s.URL()+"/_sim/reset", "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reset: %v %v", err, resp)
	}
	resp.Body.Close()
	if len(e.s.Records("salesOrder")) != 0 || len(e.s.Records("inventoryItem")) != 8 || e.s.Stats().Requests != 0 {
		t.Fatal("reset did not reset")
	}
	// Tokens are gone after a reset; certificates stay.
	e.mustStatus(e.do("GET", rec+"customer", nil), http.StatusUnauthorized)
	resp, _ = http.Get(e.s.URL() + "/_sim/nope")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatal(resp.StatusCode)
	}
}

func TestConcurrentWritersAreSafe(t *testing.T) {
	e := newEnv(t, Config{})
	cust := e.createCustomer("c1", "")
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < 10; j++ {
				r := e.do("PUT", rec+"salesOrder/eid:so-shared?replace=item", orderBody(cust, line("101", 1, "32")))
				if r.status != http.StatusNoContent {
					t.Errorf("%d %s", r.status, r.body)
				}
				e.do("POST", "/services/rest/query/v1/suiteql", map[string]any{"q": "SELECT id FROM transaction"}, "Prefer", "transient")
				_ = e.s.Stats()
				_ = e.s.Records("salesOrder")
			}
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
	recs := e.s.Records("salesOrder")
	if len(recs) != 1 || len(sublistItems(recs[0].Fields["item"])) != 1 || len(e.s.Stats().DuplicateExternalIDs) != 0 {
		t.Fatalf("records %+v", recs)
	}
}
