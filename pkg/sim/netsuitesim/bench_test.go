package netsuitesim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// benchServer is a simulator holding n customers (c<i>@example.com,
// externalId c<i>) and, for each, a sales order (so<i>) with one invoice
// transformed from it, written through the same path the REST API uses.
func benchServer(b *testing.B, n int) (*Server, string) {
	b.Helper()
	e := newEnv(b, Config{})
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range n {
		ext := "c" + strconv.Itoa(i)
		cust, ae := s.applyWriteLocked("customer", nil, map[string]any{
			"externalId": ext, "isPerson": true, "firstName": "Ann", "lastName": "Lee", "email": ext + "@Example.com",
			"subsidiary": map[string]any{"id": "2"},
		}, "", false)
		if ae != nil {
			b.Fatal(ae.Details[0].Detail)
		}
		so, ae := s.applyWriteLocked("salesOrder", nil, map[string]any{
			"externalId": "so" + strconv.Itoa(i), "entity": map[string]any{"id": cust.ID}, "orderStatus": "B",
			"tranDate": "2024-05-01", "item": map[string]any{"items": []any{map[string]any{"item": map[string]any{"id": "101"}, "quantity": json.Number("1")}}},
		}, "", false)
		if ae != nil {
			b.Fatal(ae.Details[0].Detail)
		}
		if _, ae := s.applyWriteLocked("invoice", nil, map[string]any{
			"externalId": "inv" + strconv.Itoa(i), "entity": map[string]any{"id": cust.ID}, "tranDate": "2024-05-02",
			"item": map[string]any{"items": []any{map[string]any{"item": map[string]any{"id": "101"}, "quantity": json.Number("1")}}},
		}, so.ID, true); ae != nil {
			b.Fatal(ae.Details[0].Detail)
		}
	}
	return s, e.token
}

// serve runs one API call in process (no network) and checks the status.
func serve(b *testing.B, s *Server, token string, method, path, body string, want int, headers ...string) []byte {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
	return w.Body.Bytes()
}

var benchSizes = []int{100, 1000, 10000}

// BenchmarkSuiteQLCustomerByEmail is netsuite.Client.FindCustomerByEmail's
// query (one per new order in the writer) among n customers.
func BenchmarkSuiteQLCustomerByEmail(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s, token := benchServer(b, n)
			i := 0
			for b.Loop() { // the first call also builds the e-mail index (once, O(n))
				body, _ := json.Marshal(map[string]any{
					"q":      "SELECT id, entityid, email, subsidiary FROM customer WHERE LOWER(email) = LOWER(?) AND id > ? ORDER BY id",
					"params": []string{"c" + strconv.Itoa(i%n) + "@example.com", "0"},
				})
				out := serve(b, s, token, "POST", suiteqlPath+"?limit=1000", string(body), http.StatusOK, "Prefer", "transient")
				if !strings.Contains(string(out), `"count":1,`) {
					b.Fatalf("%s", out)
				}
				i++
			}
		})
	}
}

// BenchmarkSuiteQLInvoicesOfOrder is the writer's look-up of a sales
// order's invoices (findInvoice) among n orders and n invoices.
func BenchmarkSuiteQLInvoicesOfOrder(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s, token := benchServer(b, n)
			i := 0
			for b.Loop() {
				// Sales orders and invoices alternate from id 5000.
				body, _ := json.Marshal(map[string]any{
					"q":      "SELECT id, externalid FROM transaction WHERE type = 'CustInvc' AND createdfrom = ?",
					"params": []string{strconv.Itoa(5000 + 2*(i%n))},
				})
				out := serve(b, s, token, "POST", suiteqlPath+"?limit=100", string(body), http.StatusOK, "Prefer", "transient")
				if !strings.Contains(string(out), `"count":1,`) {
					b.Fatalf("%s", out)
				}
				i++
			}
		})
	}
}

// BenchmarkGetByExternalID is a GET customer/eid:... among n customers.
func BenchmarkGetByExternalID(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s, token := benchServer(b, n)
			i := 0
			for b.Loop() {
				serve(b, s, token, "GET", recordPrefix+"customer/eid:c"+strconv.Itoa(i%n)+"?fields=id", "", http.StatusOK)
				i++
			}
		})
	}
}
