package bench_test

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/bench"
	"github.com/ml-connector/ml-connector/pkg/service"
)

// TestMain lets this test binary be a floor server process, as `mlc bench
// ingest-floor` is for the CLI.
func TestMain(m *testing.M) {
	if kind := os.Getenv(bench.EnvFloor); kind != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := bench.RunFloor(ctx, kind, service.Environ())
		stop()
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Every floor server answers the bench's webhooks as its own process,
// whose CPU is read; the "+publish" ones store each webhook in COMMERCE
// before answering, the others store nothing.
func TestFloorServers(t *testing.T) {
	for _, kind := range bench.Floors() {
		t.Run(kind, func(t *testing.T) {
			tg := start(t, bench.TargetOptions{Mode: "hmac", Floor: kind, IngestBinary: os.Args[0]})
			if tg.Server() != "floor "+kind || tg.Where() != "ingest process, embedded nats" {
				t.Fatalf("server %q where %q", tg.Server(), tg.Where())
			}
			reqs, err := tg.Requests(120, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := tg.OpenLoop(context.Background(), "floor", reqs, bench.RunOptions{Rate: 400, Warmup: 0})
			if r.Errors != 0 || r.Requests != 120 || r.Server != "floor "+kind || r.P99 <= 0 || r.CPU.BenchHolds != "load generator + nats" {
				t.Fatalf("open loop: %+v", r)
			}
			// /proc counts in 10 ms ticks: a few hundred requests may not
			// cost one, so the process's whole CPU (start-up included) says
			// that it is read.
			if cpu, err := tg.IngestCPU(); err != nil || cpu <= 0 {
				t.Fatalf("floor process CPU %v, %v", cpu, err)
			}
			want := uint64(0)
			if kind == bench.FloorNetHTTPPublish || kind == bench.FloorFastHTTPPublish {
				want = 120
			}
			if got := stored(t, tg); got != want {
				t.Fatalf("COMMERCE holds %d messages, want %d", got, want)
			}
		})
	}
	if _, err := bench.StartIngest(context.Background(), bench.TargetOptions{Floor: bench.FloorNetHTTP}); err == nil {
		t.Fatal("a floor target without an executable started")
	}
	if err := bench.RunFloor(context.Background(), "apache", nil); !errors.Is(err, bench.ErrUnknownFloor) {
		t.Fatalf("unknown floor: %v", err)
	}
}
