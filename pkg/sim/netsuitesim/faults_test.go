package netsuitesim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestFailNext(t *testing.T) {
	e := newEnv(t, Config{})
	cust := e.createCustomer("c1", "")
	body := orderBody(cust, line("101", 1, "32"))

	e.s.FailNext("/services/rest/record/v1/salesOrder", 1, Fault500)
	r := e.mustStatus(e.do("PUT", rec+"salesOrder/eid:so1", body), http.StatusInternalServerError)
	d := r.errorDetail(t)
	if d["o:errorCode"] != "UNEXPECTED_ERROR" || !strings.HasPrefix(d["detail"].(string), "An unexpected error occurred. Error ID: ") {
		t.Fatalf("%s", r.body)
	}
	if len(e.s.Records("salesOrder")) != 0 {
		t.Fatal("500 fault applied the write")
	}

	e.s.FailNext("record/v1/salesOrder", 1, FaultWorkflowLock)
	r = e.mustStatus(e.do("PUT", rec+"salesOrder/eid:so1", body), http.StatusBadRequest)
	if r.errorCode(t) != "USER_ERROR" || !strings.Contains(r.errorDetail(t)["detail"].(string), "workflow") {
		t.Fatalf("%s", r.body)
	}

	// Dropped connection after the write: the client sees a transport error,
	// the order exists, a read-back by eid finds it.
	e.s.FailNext("/services/rest/record/v1/salesOrder", 1, FaultDropAfterWrite)
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("PUT", e.s.URL()+rec+"salesOrder/eid:so1", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("expected a transport error, got %d", resp.StatusCode)
	}
	if len(e.s.Records("salesOrder")) != 1 {
		t.Fatal("drop-after-write did not apply the write")
	}
	e.mustStatus(e.do("GET", rec+"salesOrder/eid:so1?fields=id", nil), http.StatusOK)
	// Other paths and later calls are unaffected.
	e.mustStatus(e.do("PUT", rec+"salesOrder/eid:so1?replace=item", body), http.StatusNoContent)
	if got := e.s.Stats().ErrorsInjected; got != 3 {
		t.Fatalf("ErrorsInjected %d", got)
	}
}

// A strict NetSuite that commits a write and then answers 500: the record
// exists although the answer says it failed, so repeating a transform makes
// a second invoice (the hazard the writer must reconcile away).
func TestFault500AfterWrite(t *testing.T) {
	e := newEnv(t, Config{})
	cust := e.createCustomer("c1", "")
	e.s.FailNext("record/v1/salesOrder/eid:so1", 1, Fault500AfterWrite)
	r := e.mustStatus(e.do("PUT", rec+"salesOrder/eid:so1", orderBody(cust, line("101", 1, "32"))), http.StatusInternalServerError)
	if r.errorCode(t) != "UNEXPECTED_ERROR" {
		t.Fatalf("%s", r.body)
	}
	sos := e.s.Records("salesOrder")
	if len(sos) != 1 || sos[0].ExternalID != "so1" {
		t.Fatalf("the write was not applied: %+v", sos)
	}
	e.s.FailNext("record/v1/salesOrder/"+sos[0].ID+"/!transform", 1, Fault500AfterWrite)
	e.mustStatus(e.do("POST", rec+"salesOrder/"+sos[0].ID+"/!transform/invoice", map[string]any{}), http.StatusInternalServerError)
	e.mustStatus(e.do("POST", rec+"salesOrder/"+sos[0].ID+"/!transform/invoice", map[string]any{}), http.StatusNoContent)
	if n := len(e.s.Records("invoice")); n != 2 {
		t.Fatalf("invoices = %d: a repeated transform after a committed 500 must show the duplicate", n)
	}
	if got := e.s.Stats().ErrorsInjected; got != 2 {
		t.Fatalf("ErrorsInjected %d", got)
	}
}

func TestErrorRateIsDeterministic(t *testing.T) {
	count := func() int {
		e := newEnv(t, Config{ErrorRate: 0.3, Seed: 42, NoDefaultData: true})
		n := 0
		for i := 0; i < 50; i++ {
			r := e.do("GET", rec+"customer", nil)
			if r.status == http.StatusInternalServerError {
				if r.errorCode(t) != "UNEXPECTED_ERROR" {
					t.Fatalf("%s", r.body)
				}
				n++
			}
		}
		if e.s.Stats().ErrorsInjected != n {
			t.Fatalf("stats %+v, counted %d", e.s.Stats(), n)
		}
		return n
	}
	a, b := count(), count()
	if a == 0 || a == 50 || a != b {
		t.Fatalf("errors %d and %d", a, b)
	}
}

func TestAsyncWritesAndIdempotency(t *testing.T) {
	e := newEnv(t, Config{})
	body := map[string]any{"companyName": "Acme"}
	r := e.mustStatus(e.do("PUT", rec+"customer/eid:async-1", body, "Prefer", "respond-async", "X-NetSuite-Idempotency-Key", "k1"), http.StatusAccepted)
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, e.s.URL()+"/services/rest/async/v1/job/") || r.header.Get("Preference-Applied") != "respond-async" {
		t.Fatalf("headers %v", r.header)
	}
	path := strings.TrimPrefix(loc, e.s.URL())
	job := e.mustStatus(e.do("GET", path, nil), http.StatusOK).json(t)
	if job["completed"] != true {
		t.Fatalf("job %v", job)
	}
	e.mustStatus(e.do("GET", path+"/task", nil), http.StatusOK)
	e.mustStatus(e.do("GET", path+"/task/1/result", nil), http.StatusNoContent)
	// The same key again: IDEMPOTENCY_ERROR pointing at the first job.
	r = e.mustStatus(e.do("PUT", rec+"customer/eid:async-1", body, "Prefer", "respond-async", "X-NetSuite-Idempotency-Key", "k1"), http.StatusBadRequest)
	if r.errorCode(t) != "IDEMPOTENCY_ERROR" || r.header.Get("Location") != loc {
		t.Fatalf("%v %s", r.header, r.body)
	}
	// Keys are ignored on synchronous requests.
	for i := 0; i < 2; i++ {
		e.mustStatus(e.do("PUT", rec+"customer/eid:sync-1", body, "X-NetSuite-Idempotency-Key", "k2"), http.StatusNoContent)
	}
	if n := len(e.s.Records("customer")); n != 2 {
		t.Fatalf("%d customers", n)
	}
	// A failing async write reports its error in the task result.
	r = e.mustStatus(e.do("POST", rec+"salesOrder", orderBody("424242", line("101", 1, "1")), "Prefer", "respond-async"), http.StatusAccepted)
	res := e.do("GET", strings.TrimPrefix(r.header.Get("Location"), e.s.URL())+"/task/1/result", nil)
	if res.status != http.StatusBadRequest || res.errorCode(t) != "INVALID_CONTENT" {
		t.Fatalf("%d %s", res.status, res.body)
	}
	e.mustStatus(e.do("GET", "/services/rest/async/v1/job/999", nil), http.StatusNotFound)
}

func TestFailNextConcurrencyLimitAndExpireTokens(t *testing.T) {
	e := newEnv(t, Config{})
	e.s.FailNext("record/v1/customer", 1, FaultConcurrencyLimit)
	r := e.mustStatus(e.do("GET", rec+"customer/eid:none", nil), http.StatusTooManyRequests)
	if string(r.body) != concurrencyBodyExact || r.header.Get("Retry-After") != "" {
		t.Fatalf("429 body %s", r.body)
	}
	if e.s.Stats().Throttled != 1 {
		t.Fatalf("stats %+v", e.s.Stats())
	}
	e.mustStatus(e.do("GET", rec+"customer/eid:none", nil), http.StatusNotFound)

	e.s.ExpireTokens()
	r = e.mustStatus(e.do("GET", rec+"customer/eid:none", nil), http.StatusUnauthorized)
	if r.errorCode(t) != "INVALID_LOGIN" {
		t.Fatalf("%s", r.body)
	}
}
