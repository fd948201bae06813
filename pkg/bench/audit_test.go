package bench

import (
	"context"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/chtest"
)

// The audit benchmarks work end to end on small sizes against a real
// ClickHouse, count what they should, and leave no database behind.
func TestAuditBenchmarks(t *testing.T) {
	ch := chtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := AuditOptions{ClickHouse: ch.Addr}

	rate, err := MirrorRate(ctx, o, 400)
	if err != nil {
		t.Fatal(err)
	}
	if rate.Messages != 400 || rate.RowsPerSec <= 0 || rate.Inserts < 1 || rate.AvgBatch <= 0 {
		t.Errorf("rate %+v", rate)
	}

	// Two batch loops per stream: batches land in any order, the lag is
	// still per message.
	o.MirrorEnv = map[string]string{"MLC_AUDIT_WORKERS": "2", "MLC_AUDIT_BATCH_WAIT": "200ms"}
	lag, err := MirrorLag(ctx, o, 400, 200*time.Millisecond, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if lag.Messages != 400 || lag.P50 <= 0 || lag.P99 < lag.P50 || lag.Max < lag.P999 || lag.Achieved <= 0 {
		t.Errorf("lag %+v", lag)
	}

	// One copy statement past the seed: the copies are trails too.
	trail, err := TrailLatency(ctx, AuditOptions{ClickHouse: ch.Addr}, 105_000, 20)
	if err != nil {
		t.Fatal(err)
	}
	if trail.Rows != 105_000 || trail.Queries != 20 || trail.Parts < 1 || trail.KeyP50 <= 0 || trail.RefMax < trail.RefP50 {
		t.Errorf("trail %+v", trail)
	}
	if _, err := TrailLatency(ctx, AuditOptions{ClickHouse: ch.Addr}, 10, 1); err == nil {
		t.Error("a trail table smaller than its seed accepted")
	}

	s, err := audit.Open(ctx, ch.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var left uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM system.databases WHERE startsWith(name, 'mlc_bench_')").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d benchmark databases left, %v", left, err)
	}
}
