package audit_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/audit/audittest"
	"github.com/ml-connector/ml-connector/pkg/bench"
	"github.com/ml-connector/ml-connector/pkg/chtest"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

func orderBodies(tb testing.TB, n int) [][]byte {
	tb.Helper()
	b, err := audittest.OrderBodies(context.Background(), n)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// publisher builds the benchmarks' messages (stream.Publisher wants a
// JetStream connection).
func publisher(tb testing.TB) *stream.Publisher {
	_, js := natstest.Connect(tb, natstest.RunServer(tb))
	return stream.NewPublisher(js)
}

// BenchmarkInsert measures rows/s into ClickHouse in batches of 5000, the
// mirror's default (go test -run X -bench Insert ./audit/): a flow's rows,
// per order its webhook fact (the simulator's payload), its command and
// two outcomes (pkg/bench's AuditRows, as `mlc bench audit` uses them).
func BenchmarkInsert(b *testing.B) {
	srv := chtest.Start(b)
	s := openStoreB(b, srv)
	rows, err := bench.AuditRows(publisher(b), 1250, orderBodies(b, 50)) // 5000 rows
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
// (envelope decode, contract decode, redaction scan), per stream of a
// flow: the order webhook facts (2-4 KB), their commands, their outcomes.
func BenchmarkFromMessage(b *testing.B) {
	msgs, err := bench.FlowMessages(publisher(b), 1, 20, orderBodies(b, 20))
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{event.StreamCommerce, event.StreamNetSuite, event.StreamSync} {
		var mine []*nats.Msg
		for _, m := range msgs {
			if strings.HasPrefix(m.Subject, strings.ToLower(name)+".") {
				mine = append(mine, m)
			}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				m := mine[i%len(mine)]
				_ = audit.FromMessage(audit.Meta{Stream: name, Seq: uint64(i + 1), Published: time.Now()}, m.Subject, m.Header, m.Data, time.Now())
			}
		})
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
