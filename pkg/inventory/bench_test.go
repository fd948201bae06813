package inventory_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
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

// BenchmarkLargeCatalogue is a scheduled run over a large simulated
// catalogue with 1 % of it changed since the last run: NetSuite read with
// the simulator answering every call after MLC_BENCH_LATENCY_MS (default
// 50), diff, publish, and the writer's Commerce writes until every change
// has its SYNC outcome. MLC_BENCH_ITEMS sets the size (default 50,000).
//
//	MLC_BENCH_ITEMS=100000 go test -run '^$' -bench LargeCatalogue -benchtime 3x ./inventory/
//
// The publisher (the NetSuite side of the service, which holds the
// snapshot and item-map copies and reads the catalogue) runs in a child
// process of its own, so its memory is measured apart from JetStream and
// the simulators, which hold the whole catalogue in this one; the writer
// runs here. Reported per run: run-s (read, diff, publish), e2e-s (until
// Commerce has every change), SuiteQL pages, Commerce requests; and the
// publisher's peak RSS and Go heap over the timed runs (after its first,
// full run) and over its whole life. MLC_BENCH_CPUPROFILE=file profiles
// the publisher's timed runs, MLC_BENCH_MEMPROFILE=file writes its heap
// profile at the end, MLC_BENCH_PUBLISHER_GOMEMLIMIT sets its GOMEMLIMIT.
func BenchmarkLargeCatalogue(b *testing.B) {
	n := envInt(b, "MLC_BENCH_ITEMS", 50_000)
	latency := time.Duration(envInt(b, "MLC_BENCH_LATENCY_MS", 50)) * time.Millisecond
	e := servicetest.New(b, servicetest.WithCommerce(commercesim.Config{Seed: 1}), servicetest.WithNetSuite(netsuitesim.Config{Latency: latency}))
	ids := make([]string, n)
	for i := range n {
		id, sku := strconv.Itoa(10_000+i), fmt.Sprintf("BENCH-%06d", i)
		ids[i] = id
		e.NetSuite.AddItem(netsuitesim.Item{ID: id, ItemID: sku})
		e.NetSuite.SetPrice(id, "1", "1", decimal.New(int64(1000+i%5000), -2))
		e.NetSuite.SetStock(id, "1", i%100, i%100)
		e.Commerce.AddProduct(sku, sku, decimal.NewFromInt(1))
	}
	e.Run(inventory.Run, servicetest.Setenv(map[string]string{"MLC_INVENTORY_SCHEDULE": "false", "MLC_LOG_LEVEL": "warn"}))
	child := startPublisherProcess(b, e)
	outcomes := func() uint64 { return e.Count(b, event.StreamSync, "sync.*."+event.KindInventory) }
	wait := func(want uint64) {
		deadline := time.Now().Add(10 * time.Minute)
		for outcomes() < want {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d outcomes", outcomes(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	start := time.Now()
	first := child.run(b)
	want := uint64(first.Published)
	wait(want)
	b.Logf("initial run of %d items: published %d in %v, written in %v", n, want, first.Duration.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	child.call(b, "reset")

	calls := func() int { return len(e.Commerce.Requests()) }
	var runTime, e2e time.Duration
	var pages int64
	var commerceCalls, changed int
	round := 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		round++
		for i := round % 100; i < n; i += 100 { // 1 %, a different slice each round
			e.NetSuite.SetPrice(ids[i], "1", "1", decimal.New(int64(100_000+round*7+i%13), -2))
		}
		before := calls()
		b.StartTimer()
		t0 := time.Now()
		res := child.run(b)
		runTime += time.Since(t0)
		want += uint64(res.Published)
		wait(want)
		e2e += time.Since(t0)
		b.StopTimer()
		pages += res.Pages
		commerceCalls += calls() - before
		changed += res.Published
		b.StartTimer()
	}
	b.StopTimer()
	st := child.stats(b)
	r := float64(round)
	b.ReportMetric(runTime.Seconds()/r, "run-s")
	b.ReportMetric(e2e.Seconds()/r, "e2e-s")
	b.ReportMetric(float64(pages)/r, "suiteql-pages")
	b.ReportMetric(float64(commerceCalls)/r, "commerce-requests")
	b.ReportMetric(float64(changed)/r, "changed-skus")
	b.ReportMetric(st.RunsRSS/(1<<20), "pub-peak-rss-MiB")
	b.ReportMetric(st.RunsHeap/(1<<20), "pub-peak-heap-MiB")
	b.ReportMetric(st.LifeRSS/(1<<20), "pub-life-peak-rss-MiB")
}

// publisherProcess is the child running the Publisher; it takes one
// command per line on stdin and answers one "RESULT <json>" line.
type publisherProcess struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

type childRun struct {
	Published int           `json:"published"`
	Pages     int64         `json:"pages"`
	Duration  time.Duration `json:"duration"`
	Error     string        `json:"error,omitempty"`
}

type childStats struct {
	RunsRSS  float64 `json:"runs_rss"`  // VmHWM since "reset"
	RunsHeap float64 `json:"runs_heap"` // peak HeapInuse since "reset"
	LifeRSS  float64 `json:"life_rss"`  // VmHWM before "reset"
}

func startPublisherProcess(b *testing.B, e *servicetest.Env) *publisherProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPublisherProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "MLC_BENCH_CHILD=1", "MLC_NATS_URL="+e.NATS.ClientURL(),
		secrets.EnvMasterKey+"="+base64.StdEncoding.EncodeToString(e.MasterKey))
	if v := os.Getenv("MLC_BENCH_PUBLISHER_GOMEMLIMIT"); v != "" { // the publisher's only, not this process's
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+v)
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &publisherProcess{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	p.out.Buffer(make([]byte, 1<<20), 1<<20)
	b.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Wait()
	})
	return p
}

func (p *publisherProcess) call(b *testing.B, command string) []byte {
	b.Helper()
	if _, err := io.WriteString(p.in, command+"\n"); err != nil {
		b.Fatal(err)
	}
	for p.out.Scan() {
		if v, ok := strings.CutPrefix(p.out.Text(), "RESULT "); ok {
			return []byte(v)
		}
	}
	b.Fatalf("publisher process ended: %v", p.out.Err())
	return nil
}

func (p *publisherProcess) run(b *testing.B) childRun {
	b.Helper()
	var r childRun
	if err := json.Unmarshal(p.call(b, "run"), &r); err != nil || r.Error != "" {
		b.Fatalf("run: %v %s", err, r.Error)
	}
	return r
}

func (p *publisherProcess) stats(b *testing.B) childStats {
	b.Helper()
	var s childStats
	if err := json.Unmarshal(p.call(b, "stats"), &s); err != nil {
		b.Fatal(err)
	}
	return s
}

// TestPublisherProcess is BenchmarkLargeCatalogue's child process (it
// skips in a normal test run).
func TestPublisherProcess(t *testing.T) {
	if os.Getenv("MLC_BENCH_CHILD") != "1" {
		t.Skip("the large-catalogue benchmark's publisher process")
	}
	keys, err := secrets.LoadKeyring(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	nc, js, err := stream.Connect(os.Getenv("MLC_NATS_URL"), "", "bench-publisher", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	credKV, err := js.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := inventory.NewPublisher(ctx, js, secrets.NewStore(credKV, keys))
	if err != nil {
		t.Fatal(err)
	}
	var peakHeap atomic.Uint64
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var lifeRSS float64
	reply := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Printf("RESULT %s\n", b)
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "run":
			sum, err := pub.Run(ctx, inventory.RunOptions{Origin: event.OriginSchedule})
			r := childRun{}
			if err != nil {
				r.Error = err.Error()
			} else {
				r = childRun{Published: sum.Stores[0].Published, Pages: sum.Pages.Total(), Duration: sum.Duration}
			}
			reply(r)
		case "reset":
			lifeRSS = peakRSS()
			runtime.GC()
			peakHeap.Store(0)
			// Writing 5 to clear_refs resets VmHWM to the current RSS.
			_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
			if f := os.Getenv("MLC_BENCH_CPUPROFILE"); f != "" {
				out, err := os.Create(f)
				if err == nil && pprof.StartCPUProfile(out) == nil {
					defer pprof.StopCPUProfile()
				}
			}
			reply(struct{}{})
		case "stats":
			if f := os.Getenv("MLC_BENCH_MEMPROFILE"); f != "" {
				if out, err := os.Create(f); err == nil {
					_ = pprof.Lookup("heap").WriteTo(out, 0)
					_ = out.Close()
				}
			}
			reply(childStats{RunsRSS: peakRSS(), RunsHeap: float64(peakHeap.Load()), LifeRSS: lifeRSS})
			return
		}
	}
}

// peakRSS is the process's peak resident set (VmHWM), 0 where unknown.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) * 1024
		}
	}
	return 0
}
