package transform_test

import (
	"context"
	"encoding/json"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// BenchmarkService is facts through the running service: b.N orders
// already placed in the Commerce simulator (zero latency) are published on
// COMMERCE as ingest does, and the clock stops when NETSUITE holds their
// b.N commands. poll: REST-shaped facts (mapped as they are); webhook:
// webhook-shaped facts, each confirmed and completed with a REST read.
//
//	go test -run x -bench Service -benchtime 4000x ./transform/
func BenchmarkService(b *testing.B) {
	for _, shape := range []string{"poll", "webhook"} {
		b.Run(shape, func(b *testing.B) {
			w := newWorld(b, worldOptions{env: map[string]string{"MLC_LOG_LEVEL": "info"}})
			ctx := context.Background()
			facts := make([]event.CommerceFact, b.N)
			c, err := commerce.NewFromConfig(w.CommerceConnection("default").ClientConfig())
			if err != nil {
				b.Fatal(err)
			}
			for i := range facts {
				o := w.place("default", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest, NoDiscount: true,
					Lines: []commercesim.LineSpec{{SKU: "WB04", Qty: 1}, {SKU: "24-UG06", Qty: 2}, {SKU: "MS09", Child: "MS09-M-Red", Qty: 1}}})
				f := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: o.IncrementID}
				if shape == "webhook" {
					if o.Delivery == nil || !o.Delivery.Success {
						b.Fatalf("order %s: no webhook", o.IncrementID)
					}
					f.DataSchema, f.Raw = event.SchemaWebhook, o.Delivery.Body
				} else {
					var raw json.RawMessage
					if err := c.Do(ctx, "GET", "V1/orders/"+strconv.Itoa(o.EntityID), nil, nil, &raw); err != nil {
						b.Fatal(err)
					}
					f.DataSchema, f.Raw = event.SchemaRESTOrder, raw
				}
				facts[i] = f
			}
			before := w.Count(b, event.StreamNetSuite, event.NetSuiteSubject(event.KindSalesOrder))
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for _, f := range facts {
				msg, _, err := w.pub.Build(f)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := w.JS.PublishMsgAsync(msg); err != nil {
					b.Fatal(err)
				}
			}
			deadline := time.Now().Add(2 * time.Minute)
			for w.Count(b, event.StreamNetSuite, event.NetSuiteSubject(event.KindSalesOrder))-before < uint64(b.N) {
				if time.Now().After(deadline) {
					b.Fatalf("commands missing after 2 minutes")
				}
				time.Sleep(5 * time.Millisecond)
			}
			b.StopTimer()
			// The machine is shared: CPU time per fact (service, JetStream
			// server, simulator and publisher together, all in this process)
			// says what the wall clock cannot.
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/fact")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "facts/s")
		})
	}
}

// cpuTime is the CPU time this process has used (user + system).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
