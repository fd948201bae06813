package bench

import (
	"context"
	"testing"
	"time"
)

// The rig works end to end: every order settles, nothing over the limit,
// the figures are consistent with each other.
func TestRunWriter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := RunWriter(ctx, WriterOptions{Concurrency: 3, Latency: 5 * time.Millisecond, Orders: 40, Invoices: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed != 0 || r.Commands != 80 || r.PeakOffered > 3 || r.PeakOffered < 1 || r.Share429 != 0 {
		t.Fatalf("%+v", r)
	}
	// At least the lookup and the PUT per order and per invoice.
	if r.CallsPerOrder < 4 || r.Efficiency <= 0 || r.RecordsRatio <= 0 || r.RecordsRatio >= r.Efficiency {
		t.Fatalf("%+v", r)
	}
}

// go test -run x -bench Writer ./pkg/bench/ : the writer at C = 5 and a
// 20 ms NetSuite; ns/op is per order.
func BenchmarkWriter(b *testing.B) {
	r, err := RunWriter(context.Background(), WriterOptions{Concurrency: 5, Latency: 20 * time.Millisecond, Orders: max(b.N, 20)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.Efficiency, "calls/s÷(C/L)")
	b.ReportMetric(r.CallsPerOrder, "calls/order")
	b.ReportMetric(r.Share429*100, "%429")
}
