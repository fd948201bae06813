package audit_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/audit/audittest"
	"github.com/ml-connector/ml-connector/pkg/bench"
	"github.com/ml-connector/ml-connector/pkg/chtest"
	"github.com/ml-connector/ml-connector/pkg/event"
)

func orderBodies(tb testing.TB, n int) [][]byte {
	tb.Helper()
	b, err := audittest.OrderBodies(context.Background(), n)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkInsert measures rows/s into ClickHouse in batches of 5000, the
// mirror's default (go test -run X -bench Insert ./audit/): a flow's rows,
// per order its webhook fact (the simulator's payload), its command and
// two outcomes (pkg/bench's AuditRows, as `mlc bench audit` uses them).
func BenchmarkInsert(b *testing.B) {
	srv := chtest.Start(b)
	s := openStoreB(b, srv)
	rows, err := bench.AuditRows(1250, orderBodies(b, 50)) // 5000 rows
	if err != nil {
		b.Fatal(err)
	}
	var bytes int
	for _, r := range rows {
		bytes += len(r.Data)
	}
	ctx := context.Background()
	b.SetBytes(int64(bytes))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := s.Insert(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkFromMessage is the per-message cost of building a row
// (envelope decode, contract decode, redaction scan).
func BenchmarkFromMessage(b *testing.B) {
	bodies := orderBodies(b, 20)
	var msgs []message
	for i := range 20 {
		fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: fmt.Sprint(i), DataSchema: event.SchemaWebhook, Raw: bodies[i]}
		msgs = append(msgs, message{meta: audit.Meta{Stream: event.StreamCommerce, Seq: uint64(i + 1), Published: time.Now()},
			subject: fact.Subject(), hdr: headers(fact, event.OriginWebhook), data: envelope(b, fact, time.Now())})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m := msgs[i%len(msgs)]
		_ = m.row(time.Now())
	}
}

// BenchmarkTrail is `mlc audit trail` for one order among AUDIT_BENCH_ROWS
// rows (default 1,000,000), by key; b.N trails (`mlc bench audit --run
// trail` is the same, pkg/bench's TrailLatency).
//
//	go test -run X -bench Trail -benchtime 200x ./audit/
func BenchmarkTrail(b *testing.B) {
	srv := chtest.Start(b)
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("AUDIT_BENCH_ROWS")); err == nil && v >= 5000 {
		n = v
	}
	res, err := bench.TrailLatency(context.Background(), bench.AuditOptions{ClickHouse: srv.Addr}, n, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d rows in %d parts, filled in %v", res.Rows, res.Parts, res.Fill.Round(time.Millisecond))
	b.ReportMetric(res.KeyP50.Seconds()*1000, "key-p50-ms")
	b.ReportMetric(res.KeyP99.Seconds()*1000, "key-p99-ms")
	b.ReportMetric(res.RefP50.Seconds()*1000, "id-p50-ms")
	b.ReportMetric(res.RefP99.Seconds()*1000, "id-p99-ms")
}
