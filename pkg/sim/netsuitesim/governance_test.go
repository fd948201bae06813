package netsuitesim

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestConcurrencyLimit429(t *testing.T) {
	e := newEnv(t, Config{ConcurrencyLimit: 2, Latency: 200 * time.Millisecond, NoDefaultData: true})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var throttled []response
	ok := 0
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do("GET", "/services/rest/record/v1/customer", nil)
			mu.Lock()
			defer mu.Unlock()
			switch r.status {
			case http.StatusTooManyRequests:
				throttled = append(throttled, r)
			case http.StatusOK:
				ok++
			default:
				t.Errorf("status %d: %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	if len(throttled) == 0 || ok == 0 {
		t.Fatalf("throttled %d ok %d", len(throttled), ok)
	}
	for _, r := range throttled {
		if string(r.body) != concurrencyBodyExact {
			t.Fatalf("429 body %s", r.body)
		}
		if r.header.Get("Retry-After") != "" {
			t.Fatal("Retry-After must not be sent")
		}
	}
	st := e.s.Stats()
	if st.Throttled != len(throttled) || st.PeakInFlight > 2 || st.PeakInFlight < 1 {
		t.Fatalf("stats %+v", st)
	}
	// Twelve calls were offered at once against a limit of two.
	if st.PeakOffered <= 2 || st.PeakOffered > 12 {
		t.Fatalf("PeakOffered %d, want 3..12", st.PeakOffered)
	}
	// The token endpoint is outside the limit.
	gl := e.mustStatus(e.do("GET", "/services/rest/system/v1/governanceLimits", nil), http.StatusOK).json(t)
	if gl["accountConcurrencyLimit"] != float64(2) || gl["integrationLimitType"] != "accountLimit" {
		t.Fatalf("governanceLimits %v", gl)
	}
}

func TestGovernanceLimitsConfigured(t *testing.T) {
	e := newEnv(t, Config{NoDefaultData: true, GovernanceLimits: GovernanceLimits{
		AccountConcurrencyLimit: 15, AccountUnallocatedConcurrencyLimit: 10, IntegrationConcurrencyLimit: 5, IntegrationLimitType: "integrationSpecific",
	}})
	gl := e.mustStatus(e.do("GET", "/services/rest/system/v1/governanceLimits", nil), http.StatusOK).json(t)
	if gl["accountConcurrencyLimit"] != float64(15) || gl["integrationConcurrencyLimit"] != float64(5) ||
		gl["accountUnallocatedConcurrencyLimit"] != float64(10) || gl["integrationLimitType"] != "integrationSpecific" {
		t.Fatalf("%v", gl)
	}
}

func TestQuirk401UnderLoad(t *testing.T) {
	e := newEnv(t, Config{ConcurrencyLimit: 1, Latency: 300 * time.Millisecond, Quirk401: true, Quirk401Delay: 20 * time.Millisecond, NoDefaultData: true})
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do("GET", "/services/rest/record/v1/customer", nil)
			codes[i] = r.status
			if r.status == http.StatusUnauthorized && r.errorCode(t) != "INVALID_LOGIN" {
				t.Errorf("401 body %s", r.body)
			}
		}()
	}
	wg.Wait()
	n401 := 0
	for _, c := range codes {
		if c == http.StatusTooManyRequests {
			t.Fatal("429 in quirk mode")
		}
		if c == http.StatusUnauthorized {
			n401++
		}
	}
	if n401 == 0 || e.s.Stats().Throttled != n401 {
		t.Fatalf("codes %v stats %+v", codes, e.s.Stats())
	}
}
