package commercesim

import (
	"context"
	"time"
)

// RunGenerator places realistic orders in store at about perSecond until ctx
// is done: a mix of guests, returning and new customers (some sign up
// first), configurable and bundle lines, discounts; about 60% of orders are
// invoiced a few ticks later and some change status. Webhook failures do not
// stop it. It returns nil when ctx ends.
func (s *Server) RunGenerator(ctx context.Context, perSecond float64, store string) error {
	if perSecond <= 0 {
		perSecond = 1
	}
	interval := time.Duration(float64(time.Second) / perSecond)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	type pending struct {
		entityID int
		due      int
	}
	var queue []pending
	n := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		n++
		s.mu.Lock()
		roll := s.rng.IntN(100)
		delay := 2 + s.rng.IntN(5)
		s.mu.Unlock()
		if roll < 10 {
			_, _ = s.RegisterCustomer(ctx, store, CustomerSpec{})
		}
		o, err := s.PlaceOrder(ctx, store, OrderSpec{})
		if err == nil && roll < 60 {
			queue = append(queue, pending{o.EntityID, n + delay})
		} else if err == nil && roll < 70 {
			_ = s.UpdateOrderStatus(ctx, o.EntityID, "holded")
		}
		rest := queue[:0]
		for _, p := range queue {
			if p.due > n {
				rest = append(rest, p)
				continue
			}
			_, _ = s.CaptureInvoice(ctx, p.entityID)
		}
		queue = rest
	}
}
