package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/writer"
)

// PipelineOptions configure one run of the whole flow at one rate.
type PipelineOptions struct {
	BinDir string // BuildSystem's output
	Dir    string // parent of the run's directory (default the system's temp dir)
	// Rate is orders per second offered: order i is placed at start + i/Rate
	// whatever happened to the ones before it (open loop).
	Rate   float64
	Orders int
	Sync   string // JetStream sync_interval
	// NetSuiteLatency is added by the simulator to every API call;
	// AccountLimit is its concurrency limit C (429 past it; default 5).
	// The writer's budget is all of C (headroom 0), as in `mlc bench writer`.
	NetSuiteLatency time.Duration
	AccountLimit    int
	// ConfirmRetry is MLC_TRANSFORM_CONFIRM_RETRY: Commerce fires the order
	// webhook before it commits, so transform's first REST lookup may miss
	// and is repeated after this (default 250 ms).
	ConfirmRetry time.Duration
	// Wait bounds the wait for the last sales order after the last order
	// was due (default 1 min); orders not written by then count as unwritten.
	Wait time.Duration
	// ClickHouse is the address of a ClickHouse server (host:port); the run
	// mirrors into a database of its own there (dropped after) and measures
	// audit lag. "" runs without the audit.
	ClickHouse string
	// ProfileDir keeps a CPU profile of every service of the run there.
	ProfileDir string
	// Progress is told what the run is doing.
	Progress func(string)
}

// PipelineRun is one run's outcome.
type PipelineRun struct {
	Rate     float64 `json:"rate"`   // orders/s offered
	Orders   int     `json:"orders"` // placed
	Written  int     `json:"written"`
	Failed   int     `json:"failed"` // settled with another status than ok
	Achieved float64 `json:"achieved_per_s"`
	// Latency runs from each order's due time to netsuite-writer's SYNC
	// outcome for its sales order: webhook, ingest, JetStream, transform
	// with its Commerce confirmation, queueing, the writer's calls.
	Latency Quantiles `json:"latency_ms"`
	// Writer is the writer's own time on the sales order (its NetSuite
	// calls, the customer's included: the outcome's duration_ms); Pipeline
	// is Latency less Writer per order, the part that is not NetSuite.
	Writer   Quantiles `json:"writer_ms"`
	Pipeline Quantiles `json:"pipeline_ms"`

	NetSuiteLatencyMS int64 `json:"netsuite_latency_ms"`
	AccountLimit      int   `json:"account_limit"`
	// Records are what NetSuite holds after the run (customers and sales
	// orders); Calls the API requests the simulator answered.
	SalesOrders   int     `json:"sales_orders"`
	Customers     int     `json:"customers"`
	Duplicates    int     `json:"duplicate_external_ids"`
	Calls         int     `json:"netsuite_calls"`
	Throttled     int     `json:"netsuite_throttled"`
	PeakInFlight  int     `json:"netsuite_peak_in_flight"` // never above AccountLimit
	CallsPerOrder float64 `json:"netsuite_calls_per_order"`
	// RecordsPerSec is (customers + sales orders) per second over the
	// writing span; RecordsRatio divides it by C/L, the most calls per
	// second the account allows (only with a NetSuite latency); CallsRatio
	// is the calls' share of C/L.
	RecordsPerSec float64 `json:"records_per_s"`
	RecordsRatio  float64 `json:"records_ratio,omitempty"`
	CallsRatio    float64 `json:"calls_ratio,omitempty"`

	// Usage is each process's CPU per order (ms) and peak memory over the
	// run; CPUPerOrderMS sums the connector's own processes (nats-server
	// and the services: not the bench process, which holds the simulators
	// and the load generator), and CPUCeiling is the orders/s this
	// machine's cores could carry at that cost with nothing else on them.
	Usage         []ProcessUsage `json:"usage"`
	CPUPerOrderMS float64        `json:"cpu_per_order_ms"`
	CPUCeiling    float64        `json:"cpu_ceiling_per_s"`
	// NATS is what nats-server handled per order: messages in and out
	// (publishes, acks, fetches, KV operations).
	NATSInPerOrder  float64 `json:"nats_in_msgs_per_order"`
	NATSOutPerOrder float64 `json:"nats_out_msgs_per_order"`
	// AuditLag is, per stream, how long after JetStream stored a message
	// its row was in ClickHouse (nil without ClickHouse).
	AuditLag []StreamLag `json:"audit_lag,omitempty"`
	// Exited names services that died during the run (should be none).
	Exited []string `json:"exited,omitempty"`
}

// Quantiles in milliseconds.
type Quantiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// ProcessUsage is one process's share of a run.
type ProcessUsage struct {
	Name        string  `json:"name"`
	CPUPerOrder float64 `json:"cpu_per_order_ms"`
	CPUCores    float64 `json:"cpu_cores"` // average cores used over the run
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
}

// StreamLag is the audit lag of one stream.
type StreamLag struct {
	Stream string  `json:"stream"`
	Rows   uint64  `json:"rows"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// KeptPace reports whether the run wrote every order and kept up with the
// offered rate.
func (r PipelineRun) KeptPace() bool {
	return r.Orders > 0 && r.Written == r.Orders && r.Failed == 0 && r.Achieved >= 0.9*r.Rate
}

// RunPipeline starts a fresh system, places o.Orders guest orders in the
// Commerce simulator open loop and follows each to its sales order.
func RunPipeline(ctx context.Context, o PipelineOptions) (PipelineRun, error) {
	res := PipelineRun{Rate: o.Rate, NetSuiteLatencyMS: o.NetSuiteLatency.Milliseconds()}
	if o.Rate <= 0 || o.Orders < 1 {
		return res, fmt.Errorf("bench: pipeline needs a positive rate and at least one order")
	}
	if o.AccountLimit <= 0 {
		o.AccountLimit = 5
	}
	if o.ConfirmRetry <= 0 {
		o.ConfirmRetry = 250 * time.Millisecond
	}
	if o.Wait <= 0 {
		o.Wait = time.Minute
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	res.AccountLimit = o.AccountLimit
	dir, err := os.MkdirTemp(o.Dir, "mlc-bench-pipeline-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	ws := writer.NewSettings()
	ws.AccountLimit, ws.Headroom = o.AccountLimit, 0
	so := SystemOptions{Dir: dir, BinDir: o.BinDir, Sync: o.Sync,
		NetSuite: netsuitesim.Config{Latency: o.NetSuiteLatency, ConcurrencyLimit: o.AccountLimit},
		Writer:   ws, ProfileDir: o.ProfileDir,
		Env: map[string]string{
			"MLC_TRANSFORM_CONFIRM_RETRY":  o.ConfirmRetry.String(),
			"MLC_TRANSFORM_CONFIRM_WINDOW": (60 * o.ConfirmRetry).String(),
			// The backfill poll would find the same orders again: it is
			// proven by the fault suite, here it would only add load.
			"MLC_POLL_INTERVAL": "1h",
		}}
	if o.ClickHouse != "" {
		so.AuditDSN = "clickhouse://" + o.ClickHouse + "/mlc_bench_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	progress(fmt.Sprintf("rate %.4g/s: starting the system (nats-server and every service as processes) ...", o.Rate))
	sys, err := StartSystem(ctx, so)
	if err != nil {
		return res, err
	}
	defer sys.Stop()
	if sys.Audit != nil {
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = sys.Audit.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+sys.Audit.Database())
		}()
	}

	var mu sync.Mutex
	due, done := map[string]time.Time{}, map[string]time.Time{}
	writerTime := map[string]time.Duration{}
	all := make(chan struct{})
	sub, err := sys.NC.Subscribe("sync.*."+event.KindSalesOrder, func(m *nats.Msg) {
		now := time.Now()
		out, _, err := event.DecodeSyncOutcome(m.Data)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, seen := done[out.BusinessKey]; seen {
			return
		}
		done[out.BusinessKey] = now
		writerTime[out.BusinessKey] = time.Duration(out.DurationMS) * time.Millisecond
		if !out.OK() {
			res.Failed++
		}
		if len(done) == o.Orders {
			close(all)
		}
	})
	if err != nil {
		return res, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := sys.NC.Flush(); err != nil {
		return res, err
	}

	if o.ProfileDir != "" {
		// This process too: the simulators and the load generator.
		if f, err := os.Create(filepath.Join(o.ProfileDir, "bench.pprof")); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			} else {
				f.Close()
			}
		}
	}
	before := sys.Usage()
	natsBefore, natsErr := sys.NATSCounters(ctx)
	progress(fmt.Sprintf("rate %.4g/s: placing %d orders open loop ...", o.Rate, o.Orders))
	start := time.Now().Add(100 * time.Millisecond)
	var wg sync.WaitGroup
	var placeErr error
	for i := range o.Orders {
		at := start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
		if d := time.Until(at); d > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(d):
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ord, err := sys.Sims.Commerce.PlaceOrder(ctx, "default", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				placeErr = err
				return
			}
			due[event.Key(event.EntityOrder, "default", ord.IncrementID)] = at
		}()
	}
	wg.Wait()
	if placeErr != nil {
		return res, fmt.Errorf("place order: %w", placeErr)
	}
	last := start.Add(time.Duration(float64(o.Orders-1) / o.Rate * float64(time.Second)))
	select {
	case <-all:
	case <-time.After(time.Until(last.Add(o.Wait))):
		progress(fmt.Sprintf("rate %.4g/s: not every order written within %v of the last one's due time", o.Rate, o.Wait))
	case <-ctx.Done():
		return res, ctx.Err()
	}
	after := sys.Usage()
	natsAfter, err := sys.NATSCounters(ctx)
	if err == nil && natsErr == nil && o.Orders > 0 {
		n := float64(o.Orders)
		res.NATSInPerOrder = float64(natsAfter.InMsgs-natsBefore.InMsgs) / n
		res.NATSOutPerOrder = float64(natsAfter.OutMsgs-natsBefore.OutMsgs) / n
	}
	elapsed := time.Since(start)
	res.Exited = sys.Exited()

	mu.Lock()
	var lat, wr, pipe []float64
	var writes []time.Time
	for key, at := range due {
		d, ok := done[key]
		if !ok {
			continue
		}
		lat = append(lat, ms(d.Sub(at)))
		wr = append(wr, ms(writerTime[key]))
		pipe = append(pipe, ms(d.Sub(at)-writerTime[key]))
		writes = append(writes, d)
	}
	res.Orders, res.Written = len(due), len(lat)-res.Failed
	mu.Unlock()
	res.Latency, res.Writer, res.Pipeline = quantiles(lat), quantiles(wr), quantiles(pipe)
	sort.Slice(writes, func(i, j int) bool { return writes[i].Before(writes[j]) })
	res.Achieved = pace(writes, o.Orders)
	ns := sys.Sims.NetSuite
	st := ns.Stats()
	res.SalesOrders, res.Customers = len(ns.Records("salesOrder")), len(ns.Records("customer"))
	res.Duplicates, res.Calls, res.Throttled, res.PeakInFlight = len(st.DuplicateExternalIDs), st.Requests, st.Throttled, st.PeakInFlight
	if res.Orders > 0 {
		res.CallsPerOrder = float64(st.Requests) / float64(res.Orders)
	}
	if res.SalesOrders > 0 {
		// Each customer is written just before its order's sales order, so
		// records go at the sales orders' pace times records per order.
		res.RecordsPerSec = res.Achieved * float64(res.SalesOrders+res.Customers) / float64(res.SalesOrders)
		if o.NetSuiteLatency > 0 {
			ideal := float64(o.AccountLimit) / o.NetSuiteLatency.Seconds()
			res.RecordsRatio = res.RecordsPerSec / ideal
			res.CallsRatio = float64(st.Requests) / elapsed.Seconds() / ideal
		}
	}
	res.Usage, res.CPUPerOrderMS = usagePerOrder(before, after, res.Orders, elapsed)
	if res.CPUPerOrderMS > 0 {
		res.CPUCeiling = float64(runtime.NumCPU()) * 1000 / res.CPUPerOrderMS
	}
	if sys.Audit != nil {
		progress(fmt.Sprintf("rate %.4g/s: waiting for the audit to hold every message ...", o.Rate))
		if res.AuditLag, err = auditLag(ctx, sys, time.Minute); err != nil {
			return res, err
		}
	}
	return res, nil
}

// pace is the rate sales orders were written at, from the writes of the
// middle 90 % of the orders: the first few wait for nothing and the last few
// are the latency tail (a Commerce confirmation retried), neither a rate.
// A run that keeps pace writes them as fast as they were offered; a backlog
// stretches the span.
func pace(writes []time.Time, orders int) float64 {
	lo, hi := orders/20, orders-1-orders/20
	if hi >= len(writes) {
		hi = len(writes) - 1
	}
	if hi <= lo {
		return 0
	}
	span := writes[hi].Sub(writes[lo]).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(hi-lo) / span
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func quantiles(v []float64) Quantiles {
	if len(v) == 0 {
		return Quantiles{}
	}
	sort.Float64s(v)
	at := func(p float64) float64 { return v[min(len(v)-1, int(p*float64(len(v))))] }
	return Quantiles{P50: at(0.5), P90: at(0.9), P99: at(0.99), Max: v[len(v)-1]}
}

// usagePerOrder turns two samples into each process's CPU per order and
// average cores, with its peak memory.
func usagePerOrder(before, after []Usage, orders int, elapsed time.Duration) ([]ProcessUsage, float64) {
	if orders == 0 {
		return nil, 0
	}
	start := map[string]Usage{}
	for _, u := range before {
		start[u.Name] = u
	}
	var out []ProcessUsage
	total := 0.0
	for _, u := range after {
		cpu := u.CPU - start[u.Name].CPU
		p := ProcessUsage{Name: u.Name, CPUPerOrder: ms(cpu) / float64(orders),
			CPUCores: cpu.Seconds() / elapsed.Seconds(), PeakRSSMiB: float64(u.PeakRSS) / (1 << 20)}
		if u.Name != benchProcess {
			total += p.CPUPerOrder
		}
		out = append(out, p)
	}
	return out, total
}

// auditLag waits until ClickHouse holds every message of the streams the
// orders went through, then reads how long each took to get there.
func auditLag(ctx context.Context, sys *System, within time.Duration) ([]StreamLag, error) {
	streams := []string{event.StreamCommerce, event.StreamNetSuite, event.StreamSync}
	deadline := time.Now().Add(within)
	for _, name := range streams {
		s, err := sys.JS.Stream(ctx, name)
		if err != nil {
			return nil, err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return nil, err
		}
		for {
			got, _, err := sys.Audit.StreamCount(ctx, name)
			if err == nil && got >= info.State.Msgs {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("audit: %s has %d of %d messages after %v (%v)", name, got, info.State.Msgs, within, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	table := sys.Audit.Database() + "." + audit.EventsTable
	// LIMIT 1 BY keeps one copy of a message mirrored twice (the table
	// replaces copies only when it merges).
	q := "SELECT stream, count(), quantileExact(0.5)(lag), quantileExact(0.99)(lag), max(lag) FROM " +
		"(SELECT stream, seq, mirrored_ms - published_ms AS lag FROM " + table + " ORDER BY mirrored_ms LIMIT 1 BY stream, seq) " +
		"GROUP BY stream ORDER BY stream"
	rows, err := sys.Audit.Conn().Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("audit lag: %w", err)
	}
	defer rows.Close()
	var out []StreamLag
	for rows.Next() {
		var l StreamLag
		var p50, p99, mx int64
		if err := rows.Scan(&l.Stream, &l.Rows, &p50, &p99, &mx); err != nil {
			return nil, fmt.Errorf("audit lag: %w", err)
		}
		l.P50MS, l.P99MS, l.MaxMS = float64(p50), float64(p99), float64(mx)
		out = append(out, l)
	}
	return out, rows.Err()
}
