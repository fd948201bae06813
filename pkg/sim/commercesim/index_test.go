package commercesim

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// hListOrdersScan is GET /V1/orders as it was before the increment_id
// index: every order, paid totals from every invoice. It is the reference
// the indexed handler is checked against.
func (s *Server) hListOrdersScan(rq *apiRequest) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	paid := map[int]decimal.Decimal{}
	for _, inv := range s.invoices {
		if inv.State == InvoicePaid {
			paid[inv.OrderID] = paid[inv.OrderID].Add(inv.GrandTotal)
		}
	}
	var recs []record
	for _, o := range s.orders {
		if o.visible(now) {
			recs = append(recs, orderRow{o: o, paid: paid[o.EntityID]})
		}
	}
	return s.listResponse(rq, recs, orderColumns(), func(r record) any {
		row := r.(orderRow)
		return s.orderNestedLocked(row.o, s.orderScalars(row.o, row.paid))
	})
}

// TestOrderSearchMatchesFullScan places, invoices, rolls back and delays
// orders in two stores at random and checks that every search answers
// exactly what the full scan answers: the confirmation look-ups by
// increment_id the clients send, and shapes the index must not narrow
// (OR within a group, other conditions, paging past the end, bad input).
func TestOrderSearchMatchesFullScan(t *testing.T) {
	ctx := context.Background()
	s := New(Config{Seed: 7})
	defer s.Close()
	base := time.Now()
	clock := base
	s.SetClock(func() time.Time { return clock })
	rng := rand.New(rand.NewPCG(1, 2))
	var incr []string
	compared, found := 0, 0
	for step := range 120 {
		st := []string{"default", "uk"}[rng.IntN(2)]
		o, err := s.PlaceOrder(ctx, st, OrderSpec{})
		if err != nil {
			t.Fatal(err)
		}
		incr = append(incr, o.IncrementID)
		switch rng.IntN(6) {
		case 0:
			if err := s.RollbackOrder(o.IncrementID); err != nil {
				t.Fatal(err)
			}
		case 1, 2:
			if _, err := s.CaptureInvoice(ctx, o.EntityID); err != nil {
				t.Fatal(err)
			}
		case 3:
			if _, err := s.SaveInvoice(ctx, o.EntityID, InvoiceOpen); err != nil {
				t.Fatal(err)
			}
		case 4:
			if err := s.UpdateOrderStatus(ctx, o.EntityID, "complete"); err != nil {
				t.Fatal(err)
			}
		}
		if step%3 == 0 {
			s.mu.Lock()
			s.cfg.CommitDelay = time.Duration(rng.IntN(3)) * time.Minute // some orders not yet visible
			s.mu.Unlock()
		}
		if step%5 != 4 {
			continue
		}
		clock = clock.Add(time.Duration(rng.IntN(90)) * time.Second)
		pick := func() string { return incr[rng.IntN(len(incr))] }
		for _, q := range []search{
			newSearch().filter(0, 0, "increment_id", pick(), "eq").page(2, 1),
			newSearch().filter(0, 0, "increment_id", pick(), "eq").filter(1, 0, "store_id", "2", "eq").page(2, 1),
			newSearch().filter(0, 0, "store_id", "1", "").filter(1, 0, "increment_id", pick(), ""),
			newSearch().filter(0, 0, "increment_id", pick(), "eq").filter(1, 0, "increment_id", pick(), "eq"),
			newSearch().filter(0, 0, "increment_id", pick(), "eq").filter(0, 1, "increment_id", pick(), "eq"),
			newSearch().filter(0, 0, "increment_id", "nosuch", "eq"),
			newSearch().filter(0, 0, "increment_id", "2"+pick(), "eq"),
			newSearch().filter(0, 0, "increment_id", pick(), "neq").page(5, 3),
			newSearch().filter(0, 0, "increment_id", pick(), "in"),
			newSearch().filter(0, 0, "increment_id", pick()[:6]+"%", "like").sort(0, "grand_total", "DESC"),
			newSearch().filter(0, 0, "increment_id", pick(), "eq").filter(1, 0, "total_paid", "0", "gt"),
			newSearch().filter(0, 0, "increment_id", pick(), "eq").page(1, 9),
			newSearch().filter(0, 0, "increment_id", pick(), "eq").filter(1, 0, "nosuchfield", "1", "eq"),
			newSearch().filter(0, 0, "increment_id", pick(), "eq").filter(1, 0, "store_id", "1", "bogus"),
			newSearch().filter(0, 0, "increment_id", pick(), "eq").sort(0, "created_at", "sideways"),
			newSearch().filter(0, 0, "updated_at", "2000-01-01 00:00:00", "gteq").sort(0, "updated_at", "ASC").page(10, 2),
		} {
			rq := &apiRequest{r: httptest.NewRequest("GET", "/rest/V1/orders?"+q.Encode(), nil)}
			st1, b1 := s.hListOrders(rq)
			st2, b2 := s.hListOrdersScan(rq)
			j1, err1 := PHPJSON(b1) // as the wire shows it
			j2, err2 := PHPJSON(b2)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if st1 != st2 || string(j1) != string(j2) {
				t.Fatalf("step %d %s:\nindexed %d %s\nscan    %d %s", step, mustUnescape(q.Encode()), st1, j1, st2, j2)
			}
			compared++
			if strings.Contains(string(j1), `"increment_id":"`) {
				found++
			}
		}
	}
	t.Logf("%d searches, %d found orders", compared, found)
	if found < compared/3 {
		t.Fatalf("only %d of %d searches found an order: the test exercises too little", found, compared)
	}
}

func mustUnescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// TestFoldASCII checks the index key against the comparison it stands
// for: equal keys exactly when foldCompare says equal.
func TestFoldASCII(t *testing.T) {
	vals := []string{"000000001", "A1", "a1", "a2", "ä1", "Ä1", "", "Z", "z", "[", "{", "@", "`", "000000001 "}
	for _, a := range vals {
		for _, b := range vals {
			if eq, same := foldCompare(a, b) == 0, foldASCII(a) == foldASCII(b); eq != same {
				t.Errorf("%q %q: foldCompare equal %v, keys equal %v", a, b, eq, same)
			}
		}
	}
}
