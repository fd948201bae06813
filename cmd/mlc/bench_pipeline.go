package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// pipelineResult is one `mlc bench pipeline` run.
type pipelineResult struct {
	Rate     float64 `json:"rate"`     // orders/s offered
	Orders   int     `json:"orders"`   // placed
	Written  int     `json:"written"`  // sales orders settled ok in NetSuite
	Failed   int     `json:"failed"`   // settled with another status
	Achieved float64 `json:"achieved"` // sales orders/s from the first due time to the last write
	P50MS    float64 `json:"p50_ms"`   // webhook due time to the writer's outcome
	P90MS    float64 `json:"p90_ms"`
	P99MS    float64 `json:"p99_ms"`
	MaxMS    float64 `json:"max_ms"`
	// WriterP50MS is the median time netsuite-writer spent on a sales
	// order (its NetSuite calls, the customer's included); BeforeP50MS
	// the median of the rest: webhook, ingest, JetStream, transform and
	// its Commerce confirmation, queueing.
	WriterP50MS float64 `json:"writer_p50_ms"`
	BeforeP50MS float64 `json:"before_writer_p50_ms"`
	NetSuiteMS  int64   `json:"netsuite_latency_ms"`
}

func newBenchPipelineCmd() *cobra.Command {
	var (
		rate, confirm string
		orders        int
		latency       time.Duration
		wait          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Orders end to end through the one-process system: orders/s and latency from the scheduled time",
		Long: `Starts the dev stack in this process (embedded JetStream, every service, both simulators; no
ClickHouse), then for each --rate places --orders orders in the Commerce simulator open loop:
order i is due at start + i/rate whatever happened before it, and its latency runs from that
due time to the netsuite-writer's SYNC outcome for its sales order (webhook, ingest, JetStream,
transform with its Commerce REST confirmation, the writer's customer and sales order calls).

Commerce fires the order webhook before it commits the order, so transform's first lookup
usually misses and looks again after MLC_TRANSFORM_CONFIRM_RETRY (--confirm-retry): that wait
is part of the figure, as it is in production. --netsuite-latency adds a delay to every
NetSuite call.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rates []float64
			for _, r := range splitList(rate) {
				f, err := strconv.ParseFloat(r, 64)
				if err != nil || f <= 0 {
					return fmt.Errorf("--rate %q: want positive numbers", r)
				}
				rates = append(rates, f)
			}
			if orders < 1 {
				return fmt.Errorf("--orders must be at least 1")
			}
			var results []pipelineResult
			for _, r := range rates {
				res, err := benchPipeline(cmd.Context(), r, orders, latency, confirm, wait, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				results = append(results, res)
			}
			out := cmd.OutOrStdout()
			if jsonOutput(cmd) {
				return printJSON(out, results)
			}
			rows := [][]string{{"RATE", "ORDERS", "WRITTEN", "FAILED", "ACHIEVED/S", "P50", "P90", "P99", "MAX", "WRITER P50", "BEFORE WRITER P50", "NETSUITE LATENCY"}}
			for _, r := range results {
				rows = append(rows, []string{strconv.FormatFloat(r.Rate, 'f', -1, 64), strconv.Itoa(r.Orders), strconv.Itoa(r.Written),
					strconv.Itoa(r.Failed), fmt.Sprintf("%.1f", r.Achieved), millis(r.P50MS), millis(r.P90MS), millis(r.P99MS), millis(r.MaxMS), millis(r.WriterP50MS), millis(r.BeforeP50MS),
					(time.Duration(r.NetSuiteMS) * time.Millisecond).String()})
			}
			printTable(out, rows)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&rate, "rate", "20,50", "offered orders per second, comma-separated (one run each)")
	f.IntVar(&orders, "orders", 300, "orders per run")
	f.DurationVar(&latency, "netsuite-latency", 0, "latency the NetSuite simulator adds to every call")
	f.StringVar(&confirm, "confirm-retry", "250ms", "MLC_TRANSFORM_CONFIRM_RETRY: how soon transform looks an order up again")
	f.DurationVar(&wait, "wait", 2*time.Minute, "longest wait for the last sales order after the last order is due")
	return cmd
}

func millis(v float64) string { return fmt.Sprintf("%.0f ms", v) }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// benchPipeline runs one fresh stack at one rate.
func benchPipeline(ctx context.Context, rate float64, orders int, latency time.Duration, confirm string, wait time.Duration, log io.Writer) (pipelineResult, error) {
	res := pipelineResult{Rate: rate, NetSuiteMS: latency.Milliseconds()}
	dir, err := os.MkdirTemp("", "mlc-bench-pipeline-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	confirmRetry, err := time.ParseDuration(confirm)
	if err != nil || confirmRetry <= 0 {
		return res, fmt.Errorf("--confirm-retry %q: want a positive duration", confirm)
	}
	o := devstack.Options{Dir: dir, NATSPort: -1, LogOut: io.Discard, NoClickHouse: true, Env: map[string]string{
		"MLC_LOG_LEVEL": "warn", "MLC_TRANSFORM_CONFIRM_RETRY": confirm,
		"MLC_TRANSFORM_CONFIRM_WINDOW": (60 * confirmRetry).String(),
	}}
	o.Sims.CommerceAddr, o.Sims.NetSuiteAddr = "127.0.0.1:0", "127.0.0.1:0"
	o.Sims.NetSuite.Latency = latency
	fmt.Fprintf(log, "rate %g/s: starting the stack ...\n", rate)
	st, err := devstack.Start(ctx, o)
	if err != nil {
		return res, err
	}
	defer st.Stop()
	nc, _, err := stream.Connect(st.NATS.ClientURL(), "", "mlc-bench", zerolog.Nop())
	if err != nil {
		return res, err
	}
	defer nc.Close()

	var mu sync.Mutex
	due, done := map[string]time.Time{}, map[string]time.Time{}
	writer := map[string]time.Duration{}
	failed := 0
	all := make(chan struct{})
	sub, err := nc.Subscribe("sync.*."+event.KindSalesOrder, func(m *nats.Msg) {
		now := time.Now()
		o, _, err := event.DecodeSyncOutcome(m.Data)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, seen := done[o.BusinessKey]; seen {
			return
		}
		done[o.BusinessKey] = now
		writer[o.BusinessKey] = time.Duration(o.DurationMS) * time.Millisecond
		if !o.OK() {
			failed++
		}
		if len(done) == orders {
			close(all)
		}
	})
	if err != nil {
		return res, err
	}
	defer sub.Unsubscribe()

	fmt.Fprintf(log, "rate %g/s: placing %d orders ...\n", rate, orders)
	start := time.Now().Add(100 * time.Millisecond)
	var wg sync.WaitGroup
	var placeErr error
	for i := range orders {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(time.Until(at)):
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ord, err := st.Sims.Commerce.PlaceOrder(ctx, "default", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				placeErr = err
				return
			}
			due["order:default:"+ord.IncrementID] = at
		}()
	}
	wg.Wait()
	if placeErr != nil {
		return res, placeErr
	}
	last := start.Add(time.Duration(float64(orders-1) / rate * float64(time.Second)))
	select {
	case <-all:
	case <-time.After(time.Until(last.Add(wait))):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	var lat, wr, before []float64
	var end time.Time
	for key, at := range due {
		d, ok := done[key]
		if !ok {
			continue
		}
		lat = append(lat, float64(d.Sub(at).Microseconds())/1000)
		wr = append(wr, float64(writer[key].Microseconds())/1000)
		before = append(before, float64((d.Sub(at)-writer[key]).Microseconds())/1000)
		if d.After(end) {
			end = d
		}
	}
	res.Orders, res.Written, res.Failed = len(due), len(lat)-failed, failed
	if len(lat) == 0 {
		return res, nil
	}
	for _, v := range [][]float64{lat, wr, before} {
		sort.Float64s(v)
	}
	pct := func(v []float64, p float64) float64 { return v[min(len(v)-1, int(p*float64(len(v))))] }
	res.P50MS, res.P90MS, res.P99MS, res.MaxMS = pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99), lat[len(lat)-1]
	res.WriterP50MS, res.BeforeP50MS = pct(wr, 0.5), pct(before, 0.5)
	res.Achieved = float64(len(lat)) / end.Sub(start).Seconds()
	return res, nil
}
