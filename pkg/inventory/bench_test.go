package inventory_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/bench"
	"github.com/ml-connector/ml-connector/pkg/service"
)

func envInt(tb testing.TB, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		return n
	}
	return def
}

// BenchmarkLargeCatalogue is `mlc bench inventory` (pkg/bench) as a Go
// benchmark: a scheduled run over a large simulated catalogue with 1 % of
// it changed since the last run; NetSuite read with the simulator
// answering every call after MLC_BENCH_LATENCY_MS (default 50), diff,
// publish, and the writer's Commerce writes until every change has its
// SYNC outcome. MLC_BENCH_ITEMS sets the size (default 50,000).
//
//	MLC_BENCH_ITEMS=100000 go test -run '^$' -bench LargeCatalogue -benchtime 3x ./inventory/
//
// The publisher runs in a child process of its own (this test binary's
// TestPublisherProcess) with the service's soft memory limit, so its
// memory is measured apart from JetStream and the simulators, which hold
// the whole catalogue in this one; the writer runs here. Reported per run:
// run-s (read, diff, publish), e2e-s (until Commerce has every change),
// SuiteQL pages, Commerce requests; and the publisher's peak RSS and Go
// heap over the timed runs (after its first, full run) and before them.
// MLC_BENCH_CPUPROFILE=file profiles the publisher's timed runs,
// MLC_BENCH_MEMPROFILE=file writes its heap profile at the end,
// MLC_BENCH_PUBLISHER_GOMEMLIMIT sets its GOMEMLIMIT and
// MLC_BENCH_PUBLISHER_MEMORY_LIMIT its MLC_INVENTORY_MEMORY_LIMIT.
func BenchmarkLargeCatalogue(b *testing.B) {
	o := bench.InventoryOptions{
		Items:     envInt(b, "MLC_BENCH_ITEMS", 50_000),
		Latency:   time.Duration(envInt(b, "MLC_BENCH_LATENCY_MS", 50)) * time.Millisecond,
		Publisher: exec.Command(os.Args[0], "-test.run=^TestPublisherProcess$", "-test.count=1", "-test.v"),
		Env:       []string{"MLC_BENCH_CHILD=1"},
	}
	// The publisher's only, not this process's.
	if v := os.Getenv("MLC_BENCH_PUBLISHER_GOMEMLIMIT"); v != "" {
		o.Env = append(o.Env, "GOMEMLIMIT="+v)
	}
	if v := os.Getenv("MLC_BENCH_PUBLISHER_MEMORY_LIMIT"); v != "" {
		o.Env = append(o.Env, "MLC_INVENTORY_MEMORY_LIMIT="+v)
	}
	ctx := context.Background()
	rig, err := bench.StartInventory(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	defer rig.Stop()
	first, err := rig.Prime(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("initial run of %d items: published %d in %v, written in %v", o.Items, first.Changed, first.Run.Round(time.Millisecond),
		first.Written.Round(time.Millisecond))
	var sum bench.InventoryRound
	rounds := 0
	for b.Loop() {
		r, err := rig.Round(ctx)
		if err != nil {
			b.Fatal(err)
		}
		rounds++
		sum.Run += r.Run
		sum.Written += r.Written
		sum.Pages += r.Pages
		sum.CommerceRequests += r.CommerceRequests
		sum.Changed += r.Changed
	}
	st, err := rig.PublisherStats()
	if err != nil {
		b.Fatal(err)
	}
	n := float64(rounds)
	b.ReportMetric(sum.Run.Seconds()/n, "run-s")
	b.ReportMetric(sum.Written.Seconds()/n, "e2e-s")
	b.ReportMetric(float64(sum.Pages)/n, "suiteql-pages")
	b.ReportMetric(float64(sum.CommerceRequests)/n, "commerce-requests")
	b.ReportMetric(float64(sum.Changed)/n, "changed-skus")
	b.ReportMetric(st.RoundsRSS/(1<<20), "pub-peak-rss-MiB")
	b.ReportMetric(st.RoundsHeap/(1<<20), "pub-peak-heap-MiB")
	b.ReportMetric(st.FirstRSS/(1<<20), "pub-first-peak-rss-MiB")
	b.Logf("publisher memory limit: %s", st.MemoryLimit)
}

// TestPublisherProcess is BenchmarkLargeCatalogue's child process (it
// skips in a normal test run).
func TestPublisherProcess(t *testing.T) {
	if os.Getenv("MLC_BENCH_CHILD") != "1" {
		t.Skip("the large-catalogue benchmark's publisher process")
	}
	if err := bench.ServePublisher(context.Background(), os.Stdin, os.Stdout, service.Environ()); err != nil {
		t.Fatal(err)
	}
}
