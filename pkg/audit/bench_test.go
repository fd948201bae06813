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

// realisticRows is a flow's rows: per order its webhook fact (the
// simulator's payload), its command and two outcomes.
func realisticRows(tb testing.TB, orders int) []audit.Row {
	tb.Helper()
	bodies := orderBodies(tb, 50)
	seq := sequencer()
	t0 := time.Now().Add(-time.Hour)
	var rows []audit.Row
	for i := range orders {
		for j, m := range orderStory(tb, "default", fmt.Sprintf("%09d", i+1), t0.Add(time.Duration(i)*time.Millisecond), seq) {
			if j == 0 {
				fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: fmt.Sprintf("%09d", i+1), DataSchema: event.SchemaWebhook, Raw: bodies[i%len(bodies)]}
				m.data = envelope(tb, fact, t0)
			}
			rows = append(rows, m.row(time.Now()))
		}
	}
	return rows
}

// BenchmarkInsert measures rows/s into ClickHouse in batches of 5000, the
// mirror's default (go test -run X -bench Insert ./audit/).
func BenchmarkInsert(b *testing.B) {
	srv := chtest.Start(b)
	s := openStoreB(b, srv)
	rows := realisticRows(b, 1250) // 5000 rows
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

// BenchmarkTrail is `mlc audit trail` for one key among many rows
// (AUDIT_BENCH_ROWS, default 1,000,000).
func BenchmarkTrail(b *testing.B) {
	srv := chtest.Start(b)
	s := openStoreB(b, srv)
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("AUDIT_BENCH_ROWS")); err == nil && v >= 5000 {
		n = v
	}
	rows := realisticRows(b, 1250)
	ctx := context.Background()
	for inserted := 0; inserted < n; inserted += len(rows) {
		for i := range rows {
			rows[i].Key = fmt.Sprintf("order:default:%09d", inserted/4+i/4)
			rows[i].Seq = uint64(inserted + i + 1)
		}
		if err := s.Insert(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d rows inserted", n)
	b.ResetTimer()
	for i := range b.N {
		got, err := s.Trail(ctx, fmt.Sprintf("order:default:%09d", (i*7919)%(n/4)))
		if err != nil || len(got) != 4 {
			b.Fatalf("trail: %d rows, %v", len(got), err)
		}
	}
}
