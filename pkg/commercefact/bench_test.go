package commercefact

import (
	"context"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// BenchmarkRead reads a 5-line order (a configurable with its child, a
// bundle with its two children) in each shape.
func BenchmarkRead(b *testing.B) {
	w := newWorld(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now().UTC()
	o, err := w.sim.PlaceOrder(ctx, "default", commercesim.OrderSpec{Lines: []commercesim.LineSpec{{SKU: "MS09", Qty: 1, Child: "MS09-M-Red"},
		{SKU: "24-WG088", Qty: 1}}, Buyer: commercesim.BuyerGuest, Discount: dec("5")})
	if err != nil {
		b.Fatal(err)
	}
	if len(o.Items) != 5 {
		b.Fatalf("%d lines, want 5", len(o.Items))
	}
	w.waitIO()
	var rest []byte
	if _, err := w.cli.PollOrdersRaw(ctx, commerce.Cursor{UpdatedAt: start.Add(-time.Minute)}, commerce.PollOptions{Until: time.Now().Add(time.Hour)},
		func(_ context.Context, page []commerce.Raw[commerce.Order], _ commerce.Cursor) error {
			rest = page[0].Bytes
			return nil
		}); err != nil {
		b.Fatal(err)
	}
	is := func([]byte) bool { return true }
	shapes := []struct {
		name string
		m    message
	}{
		{"webhook", wrap(b, event.OrderPlaced, "default", o.IncrementID, event.OriginWebhook, event.SchemaWebhook, w.rcv.find(b, "/hooks/order-placed", is))},
		{"io-event", wrap(b, event.OrderPlaced, "default", o.IncrementID, event.OriginIOEvents, event.SchemaIOEvent, w.rcv.find(b, "/io", is))},
		{"rest", wrap(b, event.OrderPlaced, "default", o.IncrementID, event.OriginPoll, event.SchemaRESTOrder, rest)},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.m.data)))
			for b.Loop() {
				if _, err := Read(s.m.subject, s.m.hdr, s.m.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
