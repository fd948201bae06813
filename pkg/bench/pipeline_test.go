package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/chtest"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/fleet"
)

// The whole flow as processes: every order once in NetSuite with its
// customer, every process measured, every stream's audit lag read from a
// real ClickHouse; then a NetSuite with latency and a small account limit,
// which the writer must use without ever exceeding it.
func TestRunPipeline(t *testing.T) {
	ch := chtest.Start(t)
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := BuildSystem(ctx, bin); err != nil {
		t.Fatal(err)
	}

	run, err := RunPipeline(ctx, PipelineOptions{BinDir: bin, Dir: t.TempDir(), Rate: 20, Orders: 20, Sync: "1s",
		ClickHouse: ch.Addr, Progress: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	if run.Orders != 20 || run.Written != 20 || run.Failed != 0 || run.SalesOrders != 20 || run.Customers != 20 || run.Duplicates != 0 {
		t.Fatalf("records: %+v", run)
	}
	if len(run.Exited) != 0 {
		t.Errorf("services exited: %v", run.Exited)
	}
	if q := run.Latency; q.P50 <= 0 || q.P50 > q.P90 || q.P90 > q.P99 || q.P99 > q.Max {
		t.Errorf("latency %+v", q)
	}
	if run.Writer.P50 <= 0 || run.Writer.P50 > run.Latency.Max || run.Achieved <= 0 || run.CallsPerOrder < 2 {
		t.Errorf("writer %+v achieved %v calls/order %v", run.Writer, run.Achieved, run.CallsPerOrder)
	}
	want := map[string]bool{"nats-server": true, "bench": true}
	for _, svc := range fleet.All() {
		want[svc.Spec.Name] = true
	}
	for _, u := range run.Usage {
		if !want[u.Name] {
			t.Errorf("usage of an unknown process %q", u.Name)
		}
		delete(want, u.Name)
		if u.PeakRSSMiB <= 1 || u.CPUPerOrder < 0 {
			t.Errorf("usage %+v", u)
		}
	}
	if len(want) != 0 {
		t.Errorf("no usage for %v", want)
	}
	if run.CPUPerOrderMS <= 0 || run.CPUCeiling <= 0 || run.NATSInPerOrder < 3 || run.NATSOutPerOrder < 3 {
		t.Errorf("cpu per order %v ceiling %v, nats messages per order in %v out %v", run.CPUPerOrderMS, run.CPUCeiling, run.NATSInPerOrder, run.NATSOutPerOrder)
	}
	lags := map[string]StreamLag{}
	for _, l := range run.AuditLag {
		lags[l.Stream] = l
	}
	// Every order is a fact, a command for its customer and sales order
	// (two), and their outcomes.
	for stream, atLeast := range map[string]uint64{event.StreamCommerce: 20, event.StreamNetSuite: 20, event.StreamSync: 40} {
		l := lags[stream]
		if l.Rows < atLeast || l.P50MS < 0 || l.P99MS < l.P50MS || l.MaxMS < l.P99MS {
			t.Errorf("audit lag of %s: %+v (want at least %d rows)", stream, l, atLeast)
		}
	}

	slow, err := RunPipeline(ctx, PipelineOptions{BinDir: bin, Dir: t.TempDir(), Rate: 40, Orders: 12, Sync: "1s",
		NetSuiteLatency: 20 * time.Millisecond, AccountLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if slow.Written != 12 || slow.SalesOrders != 12 || slow.Duplicates != 0 {
		t.Fatalf("records: %+v", slow)
	}
	if slow.RecordsRatio <= 0 || slow.CallsRatio <= 0 || slow.CallsRatio > 1.05 || slow.PeakInFlight > 3 {
		t.Errorf("records ratio %v, calls ratio %v, peak in flight %d (limit 3)", slow.RecordsRatio, slow.CallsRatio, slow.PeakInFlight)
	}
	if slow.Writer.P50 < 2*20 {
		t.Errorf("writer p50 %v ms: a sales order needs at least two calls of 20 ms", slow.Writer.P50)
	}

	rep := Report{Command: "test", Machine: readMachine(), Sync: "1s", Throughput: []PipelineRun{run}, MaxRate: 20, Capacity: &slow, Overload: &slow}
	rep.Targets = rep.targets()
	var md bytes.Buffer
	if err := rep.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"### Targets", "≥ 5,000/s", "records/s ÷ (C/L)", "audit lag", "netsuite-writer", "peak memory"} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, md.String())
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Throughput) != 1 || back.Throughput[0].Written != 20 {
		t.Errorf("json round trip: %v %+v", err, back.Throughput)
	}
}

func TestPace(t *testing.T) {
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, time.Unix(0, 0).Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	// 40 writes 100 ms apart, the last one a second late: 10/s, the tail
	// left out.
	var ms []int
	for i := range 39 {
		ms = append(ms, i*100)
	}
	ms = append(ms, 4900)
	if got := pace(at(ms...), 40); got < 9.9 || got > 10.1 {
		t.Errorf("pace %v, want 10", got)
	}
	if got := pace(at(0), 1); got != 0 {
		t.Errorf("one write: pace %v", got)
	}
	if got := pace(nil, 20); got != 0 {
		t.Errorf("no writes: pace %v", got)
	}
}
