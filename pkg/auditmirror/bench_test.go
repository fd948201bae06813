package auditmirror_test

import (
	"context"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/audit/audittest"
)

// BenchmarkMirror is the sustained mirror rate: a backlog of realistic
// messages (order webhooks from the Commerce simulator, their commands and
// outcomes) on JetStream, then the mirror from start until every message is
// in ClickHouse; one op is one message.
//
//	go test -run X -bench Mirror -benchtime 40000x ./auditmirror/
func BenchmarkMirror(b *testing.B) {
	h := newHarnessB(b)
	h.wait = 10 * time.Minute
	bodies, err := audittest.OrderBodies(context.Background(), 50)
	if err != nil {
		b.Fatal(err)
	}
	orders := max(1, b.N/4) // 4 messages per order
	if _, err := (audittest.Flow{Orders: orders, Bodies: bodies}).Publish(context.Background(), h.JS); err != nil {
		b.Fatal(err)
	}
	total := h.total(b)
	b.ResetTimer()
	start := time.Now()
	svc := h.run(b) // ready once ClickHouse answered and the schema is migrated
	s := h.store(b)
	h.waitMirrored(b, s)
	elapsed := time.Since(start)
	b.StopTimer()
	b.Logf("inserts: %s in %s s; batch rows sum %s", svc.Metric(b, "mlc_audit_insert_seconds_count"), svc.Metric(b, "mlc_audit_insert_seconds_sum"), svc.Metric(b, "mlc_audit_batch_rows_sum"))
	b.ReportMetric(float64(total)/elapsed.Seconds(), "rows/s")
}
