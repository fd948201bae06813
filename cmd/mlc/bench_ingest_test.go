package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/bench"
)

// TestMain lets this test binary be what `mlc bench ingest --floor` runs
// as its floor servers: os.Executable() with `bench ingest floor`.
func TestMain(m *testing.M) {
	if os.Getenv(bench.EnvFloor) != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		cmd := newRootCmd()
		cmd.SetArgs(os.Args[1:])
		err := cmd.ExecuteContext(ctx)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// --floor runs the same fixed-rate load against floor server processes
// after ingest: every webhook of each is answered, each row says what
// answered it.
func TestBenchIngestFloor(t *testing.T) {
	out, err := mlc(t, "", "bench", "ingest", "--run", "fixed", "--rate", "200", "--duration", "400ms", "--warmup", "100ms",
		"--sync", "default", "--mode", "hmac", "--cache", "", "--floor", "net/http+publish,fasthttp", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res struct{ Runs []bench.Result }
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []string{"ingest", "floor net/http+publish", "floor fasthttp"}
	if len(res.Runs) != len(want) {
		t.Fatalf("%d runs: %s", len(res.Runs), out)
	}
	for i, r := range res.Runs {
		if r.Server != want[i] || r.Errors != 0 || r.Requests != 80 || r.Loop != "open" {
			t.Errorf("run %d: %+v", i, r)
		}
	}
	if r := res.Runs[1]; r.CPU.BenchHolds != "load generator + nats" || r.Where != "ingest process, embedded nats" {
		t.Errorf("a floor is its own process: %+v", r)
	}
	for _, bad := range [][]string{{"--floor", "apache"}, {"--floor", "all", "--run", "closed"}} {
		if _, err := mlc(t, "", append([]string{"bench", "ingest", "--mode", "hmac", "--cache", ""}, bad...)...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// What ingest adds is set against the floors of the same sync and rate,
// and only when ingest's CPU is its own.
func TestFloorLines(t *testing.T) {
	run := func(server, sync string, cpu float64, holds string) bench.Result {
		return bench.Result{Name: "fixed 1000/s", Loop: "open", Rate: 1000, Server: server, Sync: sync,
			CPU: bench.CPU{Ingest: cpu, BenchHolds: holds}}
	}
	lines := floorLines([]bench.Result{
		run("ingest", "1s", 0.5, "load generator"), run("floor net/http", "1s", 0.2, "load generator"),
		run("floor net/http", "always", 0.3, "load generator"), run("ingest", "default", 0, "load generator + ingest"),
		run("floor fasthttp", "default", 0.1, "load generator"),
	})
	if len(lines) != 1 || !strings.Contains(lines[0], "sync 1s, 1000/s: ingest 0.500 ms per webhook = floor net/http 0.200 + 0.300 of its own (60 %)") {
		t.Fatalf("%q", lines)
	}
}
