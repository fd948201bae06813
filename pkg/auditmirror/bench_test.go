package auditmirror_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/bench"
	"github.com/ml-connector/ml-connector/pkg/chtest"
)

func benchOptions(b *testing.B) bench.AuditOptions {
	o := bench.AuditOptions{ClickHouse: chtest.Start(b).Addr, MirrorEnv: map[string]string{}}
	if w := os.Getenv("AUDIT_BENCH_WORKERS"); w != "" {
		o.MirrorEnv["MLC_AUDIT_WORKERS"] = w
	}
	return o
}

// BenchmarkMirror is the sustained mirror rate: a backlog of b.N realistic
// messages (order webhooks from the Commerce simulator, their commands and
// outcomes) on JetStream, then the mirror from its first insert until every
// message is in ClickHouse (`mlc bench audit --run rate`, pkg/bench's
// MirrorRate).
//
//	go test -run X -bench Mirror -benchtime 40000x ./auditmirror/
func BenchmarkMirror(b *testing.B) {
	res, err := bench.MirrorRate(context.Background(), benchOptions(b), b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d inserts of %.0f rows on average, %.1f s in them; start-up %v", res.Inserts, res.AvgBatch, res.InsertSecs, res.Startup.Round(time.Millisecond))
	b.ReportMetric(res.RowsPerSec, "rows/s")
}

// BenchmarkMirrorLag publishes b.N realistic flow messages open loop at
// AUDIT_BENCH_RATE per second (default 5000) after a 2 s warm-up while
// the mirror runs, and reports the lag from each message's due time until
// ClickHouse answers with it (`mlc bench audit --run lag`, pkg/bench's
// MirrorLag).
//
//	go test -run X -bench MirrorLag -benchtime 50000x ./auditmirror/
func BenchmarkMirrorLag(b *testing.B) {
	rate := 5000.0
	if v, err := strconv.ParseFloat(os.Getenv("AUDIT_BENCH_RATE"), 64); err == nil && v > 0 {
		rate = v
	}
	// At least a second measured: the benchmark's first call has b.N 1.
	d := max(time.Second, time.Duration(float64(b.N)/rate*float64(time.Second)))
	res, err := bench.MirrorLag(context.Background(), benchOptions(b), rate, 2*time.Second, d)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.Achieved, "published/s")
	b.ReportMetric(res.P50.Seconds(), "p50-lag-s")
	b.ReportMetric(res.P99.Seconds(), "p99-lag-s")
}
