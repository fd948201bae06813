package commercesim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func BenchmarkPlaceOrderNoHook(b *testing.B) {
	s := New(Config{})
	defer s.Close()
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.PlaceOrder(ctx, "default", OrderSpec{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListOrdersPage measures one poll page over 5,000 orders.
func BenchmarkListOrdersPage(b *testing.B) {
	s := New(Config{BearerEnabled: true})
	defer s.Close()
	for range 5000 {
		if _, err := s.PlaceOrder(context.Background(), "default", OrderSpec{}); err != nil {
			b.Fatal(err)
		}
	}
	q := newSearch().filter(0, 0, "updated_at", "2000-01-01 00:00:00", "gteq").sort(0, "updated_at", "ASC").sort(1, "entity_id", "ASC").page(100, 1)
	target := "/rest/all/V1/orders?" + q.Encode()
	for b.Loop() {
		req := httptest.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", "Bearer "+s.Config().OAuth1.AccessToken)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

// BenchmarkOrderSearchByIncrementID is transform's REST confirmation (and
// commerce.Client.GetOrderByIncrementID): GET /V1/orders filtered by
// increment_id and store_id, pageSize 2, among n orders, every other one
// invoiced.
func BenchmarkOrderSearchByIncrementID(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := New(Config{BearerEnabled: true})
			defer s.Close()
			var incr []string
			for i := range n {
				o, err := s.PlaceOrder(context.Background(), "default", OrderSpec{})
				if err != nil {
					b.Fatal(err)
				}
				if i%2 == 0 {
					if _, err := s.CaptureInvoice(context.Background(), o.EntityID); err != nil {
						b.Fatal(err)
					}
				}
				incr = append(incr, o.IncrementID)
			}
			i := 0
			for b.Loop() {
				q := newSearch().filter(0, 0, "increment_id", incr[i%n], "eq").filter(1, 0, "store_id", "1", "eq").page(2, 1)
				req := httptest.NewRequest("GET", "/rest/default/V1/orders?"+q.Encode(), nil)
				req.Header.Set("Authorization", "Bearer "+s.Config().OAuth1.AccessToken)
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"total_count":1}`) {
					b.Fatal(w.Code, w.Body.String())
				}
				i++
			}
		})
	}
}
