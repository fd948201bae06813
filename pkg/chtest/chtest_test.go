package chtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/chtest"
)

// The helper must give a server that takes DDL, a batch insert with an
// explicit column list (what ClickHouse 18.16 needs) and answers queries.
func TestServerRoundTrip(t *testing.T) {
	conn := chtest.Start(t).Open(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, `CREATE TABLE probe (ts DateTime, key String, n UInt32) ENGINE = MergeTree() ORDER BY (key, ts)`); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO probe (ts, key, n)")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 100 {
		if err := batch.Append(now, "order:default:1", uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	var count uint64
	var sum uint64
	if err := conn.QueryRow(ctx, `SELECT count(), sum(n) FROM probe WHERE key = 'order:default:1'`).Scan(&count, &sum); err != nil {
		t.Fatal(err)
	}
	if count != 100 || sum != 4950 {
		t.Fatalf("count=%d sum=%d, want 100 and 4950", count, sum)
	}
}

// A stopped server refuses connections and comes back with its data.
func TestStopRestart(t *testing.T) {
	if os.Getenv("MLC_CLICKHOUSE_DSN") != "" {
		t.Skip("external server")
	}
	srv := chtest.Start(t)
	ctx := context.Background()
	conn := srv.Open(t)
	if err := conn.Exec(ctx, `CREATE TABLE kept (n UInt32) ENGINE = MergeTree() ORDER BY n`); err != nil {
		t.Fatal(err)
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO kept (n)")
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Append(uint32(7))
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("ping answered by a stopped server")
	}
	srv.Restart(t)
	var n uint64
	if err := srv.Open(t).QueryRow(ctx, `SELECT count() FROM kept WHERE n = 7`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after restart: %d, %v", n, err)
	}
}
