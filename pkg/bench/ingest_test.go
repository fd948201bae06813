package bench_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/bench"
)

func start(t testing.TB, mode string) *bench.IngestTarget {
	t.Helper()
	tg, err := bench.StartIngest(context.Background(), bench.TargetOptions{Mode: mode, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Stop)
	return tg
}

// The load generator's requests are all distinct, correctly signed orders:
// every one is answered {"op":"success"} and stored once.
func TestLoadIsStoredOnce(t *testing.T) {
	for _, mode := range []string{"rsa", "hmac"} {
		t.Run(mode, func(t *testing.T) {
			tg := start(t, mode)
			reqs, err := tg.Requests(150, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := tg.FixedRate(context.Background(), "fixed", reqs[:100], 400)
			if r.Errors != 0 || r.Requests != 100 || r.P99 <= 0 {
				t.Fatalf("fixed rate: %+v", r)
			}
			r = tg.MaxThroughput(context.Background(), "max", reqs[100:], 8)
			if r.Errors != 0 || r.Requests != 50 {
				t.Fatalf("max throughput: %+v", r)
			}
			if got := stored(t, tg); got != 150 {
				t.Fatalf("COMMERCE holds %d messages for 150 distinct orders", got)
			}
		})
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
// with parallel senders. Run: go test -run x -bench IngestWebhook ./bench/
func BenchmarkIngestWebhook(b *testing.B) {
	for _, mode := range []string{"hmac", "rsa"} {
		b.Run(mode, func(b *testing.B) {
			tg := start(b, mode)
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
