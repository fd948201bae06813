package commercesim

import (
	"context"
	"net/http"
	"net/http/httptest"
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
