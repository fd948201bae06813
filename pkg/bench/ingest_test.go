package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/bench"
)

func start(t testing.TB, o bench.TargetOptions) *bench.IngestTarget {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	tg, err := bench.StartIngest(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Stop)
	return tg
}

// The load generator's requests are all distinct, correctly signed orders:
// every one is answered {"op":"success"} and stored once, in open and in
// closed loop; warm-up requests are sent and stored but not measured.
func TestLoadIsStoredOnce(t *testing.T) {
	for _, mode := range []string{"rsa", "hmac"} {
		t.Run(mode, func(t *testing.T) {
			tg := start(t, bench.TargetOptions{Mode: mode})
			reqs, err := tg.Requests(150, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := tg.OpenLoop(context.Background(), "fixed", reqs[:100], bench.RunOptions{Rate: 400, Warmup: 50 * time.Millisecond})
			if r.Errors != 0 || r.Requests != 80 || r.P99 <= 0 || r.Loop != "open" || r.Rate != 400 || r.Where != "in-process" {
				t.Fatalf("open loop: %+v", r)
			}
			if !strings.Contains(r.CPU.BenchHolds, "ingest") || !strings.Contains(r.CPU.BenchHolds, "nats") || r.CPU.Ingest != 0 {
				t.Fatalf("in-process CPU is the bench process's: %+v", r.CPU)
			}
			r = tg.ClosedLoop(context.Background(), "closed", reqs[100:], 8)
			if r.Errors != 0 || r.Requests != 50 || r.Loop != "closed" {
				t.Fatalf("closed loop: %+v", r)
			}
			if got := stored(t, tg); got != 150 {
				t.Fatalf("COMMERCE holds %d messages for 150 distinct orders", got)
			}
		})
	}
}

// Every find-max step sends webhooks no earlier step sent: each one is
// stored, none is a duplicate. (The SLO is an hour: this checks the
// search and the bookkeeping, not a speed.)
func TestFindMaxSendsFreshWebhooks(t *testing.T) {
	tg := start(t, bench.TargetOptions{Mode: "hmac", Sync: "1s"})
	var told int
	best, steps, err := tg.FindMax(context.Background(), "find-max", bench.FindMaxOptions{SLO: time.Hour, Start: 100, Max: 300,
		Step: 200 * time.Millisecond, Warmup: 100 * time.Millisecond, Progress: func(bench.Result) { told++ }})
	if err != nil {
		t.Fatal(err)
	}
	// 100/s, 200/s, then 300/s (the limit): all pass an hour's SLO.
	if len(steps) != 3 || told != 3 || best.Rate != 300 || best.Sync != "1s" {
		t.Fatalf("best %+v after %d steps (%d told)", best, len(steps), told)
	}
	want := uint64(0)
	for _, s := range steps {
		if s.Errors != 0 {
			t.Fatalf("step %s: %+v", s.Name, s)
		}
		want += uint64(s.Rate * 0.3)
	}
	if got := stored(t, tg); got != want {
		t.Fatalf("COMMERCE holds %d messages, the steps sent %d distinct orders", got, want)
	}
}

// Ingest and nats-server as their own processes, as an operator runs them,
// with sync_interval always: the webhooks are stored once, and the CPU of
// each process is read from /proc.
func TestSeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds services/ingest and nats-server")
	}
	ingestBin, natsBin, err := bench.BuildBinaries(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tg := start(t, bench.TargetOptions{Mode: "rsa", Sync: bench.SyncAlways, IngestBinary: ingestBin, NATSBinary: natsBin,
		IngestEnv: map[string]string{"GOMAXPROCS": "1"}})
	if tg.Where() != "processes" {
		t.Fatalf("where: %s", tg.Where())
	}
	reqs, err := tg.Requests(60, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := tg.OpenLoop(context.Background(), "fixed", reqs, bench.RunOptions{Rate: 300})
	if r.Errors != 0 || r.Requests != 60 || r.Sync != "always" || r.CPU.BenchHolds != "load generator" {
		t.Fatalf("open loop: %+v", r)
	}
	if got := stored(t, tg); got != 60 {
		t.Fatalf("COMMERCE holds %d messages for 60 distinct orders", got)
	}
}

// A cached pool hands out the same signed webhooks in the next run (so no
// signing), and never the same index twice within one.
func TestRequestCache(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	p, err := bench.OpenRequestPool(ctx, "rsa", dir)
	if err != nil {
		t.Fatal(err)
	}
	first, err := p.Take(4, nil)
	if err != nil {
		t.Fatal(err)
	}
	more, err := p.Take(2, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range append(first, more...) {
		if seen[string(r.Body)] || seen[r.RequestID] {
			t.Fatalf("request %s handed out twice", r.RequestID)
		}
		seen[string(r.Body)], seen[r.RequestID] = true, true
	}
	// A run killed while appending leaves a cut line: it is dropped.
	sigs := filepath.Join(dir, "ingest-rsa", "signatures")
	f, err := os.OpenFile(sigs, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("AAAA"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	again, err := bench.OpenRequestPool(ctx, "rsa", dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Cached() != 6 {
		t.Fatalf("cache holds %d signatures, want the 6 signed", again.Cached())
	}
	same, err := again.Take(6, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range same {
		want := append(first, more...)[i]
		if string(r.Body) != string(want.Body) || r.Signature != want.Signature {
			t.Fatalf("request %d differs from the cached one", i)
		}
	}
	// The same cache serves a target: ingest verifies the cached signatures.
	tg := start(t, bench.TargetOptions{Mode: "rsa", Cache: dir})
	reqs, err := tg.Requests(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if err := tg.Send(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
}

func stored(t *testing.T, tg *bench.IngestTarget) uint64 {
	t.Helper()
	nc, err := nats.Connect(tg.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), "COMMERCE")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// BenchmarkIngestWebhook measures a signed order webhook from request to
// {"op":"success"} (verified and acknowledged by JetStream), over loopback,
// with parallel senders (closed loop). Run:
// go test -run x -bench IngestWebhook ./bench/
func BenchmarkIngestWebhook(b *testing.B) {
	for _, mode := range []string{"hmac", "rsa"} {
		b.Run(mode, func(b *testing.B) {
			tg := start(b, bench.TargetOptions{Mode: mode, Cache: os.Getenv("MLC_BENCH_CACHE")})
			reqs, err := tg.Requests(b.N, nil)
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					if err := tg.Send(context.Background(), reqs[i]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
