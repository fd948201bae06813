package auditmirror_test

import (
	"context"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/audit/audittest"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
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
	var opts []servicetest.RunOption
	if w := os.Getenv("AUDIT_BENCH_WORKERS"); w != "" {
		opts = append(opts, servicetest.Setenv(map[string]string{"MLC_AUDIT_WORKERS": w}))
	}
	svc := h.run(b, opts...) // ready once ClickHouse answered and the schema is migrated
	s := h.store(b)
	h.waitMirrored(b, s)
	elapsed := time.Since(start)
	b.StopTimer()
	b.Logf("inserts: %s in %s s; batch rows sum %s", svc.Metric(b, "mlc_audit_insert_seconds_count"), svc.Metric(b, "mlc_audit_insert_seconds_sum"), svc.Metric(b, "mlc_audit_batch_rows_sum"))
	b.ReportMetric(float64(total)/elapsed.Seconds(), "rows/s")
}

// BenchmarkMirrorLag publishes realistic flow messages at a fixed rate
// (AUDIT_BENCH_RATE per second, default 5000) for b.N messages while the
// mirror runs, and reports the p99 of mlc_audit_delay_seconds (JetStream
// store to ClickHouse insert; the upper bound of its histogram bucket).
//
//	go test -run X -bench MirrorLag -benchtime 50000x ./auditmirror/
func BenchmarkMirrorLag(b *testing.B) {
	h := newHarnessB(b)
	h.wait = 10 * time.Minute
	rate := 5000.0
	if v, err := strconv.ParseFloat(os.Getenv("AUDIT_BENCH_RATE"), 64); err == nil && v > 0 {
		rate = v
	}
	bodies, err := audittest.OrderBodies(context.Background(), 50)
	if err != nil {
		b.Fatal(err)
	}
	svc := h.run(b)
	s := h.store(b)
	b.ResetTimer()
	// Four messages per order, published by four senders (a synchronous
	// publish is a round trip), each pacing its share in 10 ms ticks.
	const senders = 4
	orders := max(senders, b.N/4)
	perSender := orders / senders
	orderRate := rate / 4 / senders
	perTick := max(1, int(orderRate/100))
	start := time.Now()
	var wg sync.WaitGroup
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < perSender; done += perTick {
				n := min(perTick, perSender-done)
				f := audittest.Flow{First: w*perSender + done + 1, Orders: n, Bodies: bodies}
				if _, err := f.Publish(context.Background(), h.JS); err != nil {
					b.Error(err)
					return
				}
				if due := start.Add(time.Duration(float64(done+n) / orderRate * float64(time.Second))); time.Until(due) > 0 {
					time.Sleep(time.Until(due))
				}
			}
		}()
	}
	wg.Wait()
	orders = perSender * senders
	achieved := float64(orders*4) / time.Since(start).Seconds()
	h.waitMirrored(b, s)
	b.StopTimer()
	b.ReportMetric(achieved, "published/s")
	b.ReportMetric(delayQuantile(b, svc, 0.99), "p99-lag-s")
	b.ReportMetric(delayQuantile(b, svc, 0.5), "p50-lag-s")
}

// delayQuantile reads mlc_audit_delay_seconds (all streams) from /metrics
// and returns the upper bound of the bucket holding quantile q.
func delayQuantile(tb testing.TB, svc *servicetest.Service, q float64) float64 {
	tb.Helper()
	_, body := svc.Get(tb, "/metrics")
	counts := map[float64]float64{}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "mlc_audit_delay_seconds_bucket{") {
			continue
		}
		i := strings.Index(line, `le="`)
		j := strings.Index(line[i+4:], `"`)
		le, err := strconv.ParseFloat(line[i+4:i+4+j], 64)
		if err != nil { // +Inf
			le = math.Inf(1)
		}
		v, _ := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		counts[le] += v
	}
	var bounds []float64
	for le := range counts {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	total := counts[math.Inf(1)]
	for _, le := range bounds {
		if counts[le] >= q*total {
			return le
		}
	}
	return math.Inf(1)
}
