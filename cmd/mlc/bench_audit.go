package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/bench"
)

func newBenchAuditCmd() *cobra.Command {
	var (
		runs       string
		clickhouse string
		messages   int
		rate       float64
		duration   time.Duration
		warmup     time.Duration
		trailRows  int
		queries    int
		mirrorEnv  []string
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Measure audit-mirror's rate and lag into ClickHouse, and audit trail's latency",
		Args:  cobra.NoArgs,
		Long: `Runs against a ClickHouse server (this machine's clickhouse-server, started with a throwaway
data directory, or --clickhouse host:port), each run in an audit database of its own that is
dropped afterwards, with realistic flow messages (per order its Commerce webhook, 2-4 KB, its
sales order command and two outcomes). audit-mirror runs in this process with an embedded
JetStream server of its own per run:

  rate   a backlog of --messages on JetStream, then the mirror from its start until every
         message is in ClickHouse: rows/s from the first insert to the last
  lag    the mirror running while messages are published open loop at --rate for
         --duration after --warmup (message i is due at start + i/rate whatever happened
         before it): lag from each message's due time until ClickHouse answers queries
         with it (polled every 50 ms), p50/p99/p99.9/max
  trail  --trail-rows rows (5,000 inserted as the mirror does, the rest copies made by
         ClickHouse with new order numbers and sequences), then --queries trails of random
         orders, as mlc audit trail runs them: by key and by bare increment id`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			errOut := cmd.ErrOrStderr()
			want := map[string]bool{}
			for _, r := range strings.Split(runs, ",") {
				r = strings.TrimSpace(r)
				if r != "rate" && r != "lag" && r != "trail" {
					return fmt.Errorf("--run %q: want rate, lag or trail", r)
				}
				want[r] = true
			}
			o := bench.AuditOptions{ClickHouse: clickhouse, MirrorEnv: map[string]string{},
				Progress: func(s string) { fmt.Fprintf(errOut, "%s %s\n", time.Now().Format("15:04:05"), s) }}
			for _, kv := range mirrorEnv {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--mirror-env %q: want KEY=VALUE", kv)
				}
				o.MirrorEnv[k] = v
			}
			if o.ClickHouse == "" {
				addr, stop, err := bench.StartAuditClickHouse()
				if err != nil {
					return err
				}
				defer stop()
				o.ClickHouse = addr
				o.Progress("clickhouse-server started on " + addr)
			}
			out := map[string]any{}
			if want["rate"] {
				if cpuProfile != "" {
					f, err := os.Create(cpuProfile)
					if err != nil {
						return err
					}
					if err := pprof.StartCPUProfile(f); err != nil {
						return err
					}
				}
				res, err := bench.MirrorRate(ctx, o, messages)
				if cpuProfile != "" {
					pprof.StopCPUProfile()
				}
				if err != nil {
					return fmt.Errorf("rate: %w", err)
				}
				out["rate"] = res
			}
			if want["lag"] {
				res, err := bench.MirrorLag(ctx, o, rate, warmup, duration)
				if err != nil {
					return fmt.Errorf("lag: %w", err)
				}
				out["lag"] = res
			}
			if want["trail"] {
				res, err := bench.TrailLatency(ctx, o, trailRows, queries)
				if err != nil {
					return fmt.Errorf("trail: %w", err)
				}
				out["trail"] = res
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), out)
			}
			w := cmd.OutOrStdout()
			if r, ok := out["rate"].(bench.MirrorRateResult); ok {
				fmt.Fprintln(w, "\nsustained mirror rate (backlog on JetStream -> ClickHouse)")
				printTable(w, [][]string{{"MESSAGES", "ROWS/s", "PAYLOAD MB/s", "SECONDS", "START-UP", "INSERTS", "AVG BATCH", "IN INSERT"},
					{fmt.Sprint(r.Messages), fmt.Sprintf("%.0f", r.RowsPerSec), fmt.Sprintf("%.1f", r.MBPerSec), secs(r.Elapsed), secs(r.Startup),
						fmt.Sprint(r.Inserts), fmt.Sprintf("%.0f", r.AvgBatch), fmt.Sprintf("%.1fs", r.InsertSecs)}})
			}
			if r, ok := out["lag"].(bench.MirrorLagResult); ok {
				fmt.Fprintf(w, "\nlag at a fixed offered rate (open loop, %v after %v warm-up; due time -> queryable, polled every %v)\n", r.Duration, r.Warmup, r.Poll)
				printTable(w, [][]string{{"OFFERED/s", "ACHIEVED/s", "MEASURED", "SEND LAG P99", "P50", "P99", "P99.9", "MAX"},
					{fmt.Sprintf("%.0f", r.Offered), fmt.Sprintf("%.0f", r.Achieved), fmt.Sprint(r.Messages), ms(r.SendLagP99),
						ms(r.P50), ms(r.P99), ms(r.P999), ms(r.Max)}})
			}
			if r, ok := out["trail"].(bench.TrailResult); ok {
				fmt.Fprintf(w, "\naudit trail of one order among %d rows (%d active parts; filled in %s), %d queries each\n", r.Rows, r.Parts, secs(r.Fill), r.Queries)
				printTable(w, [][]string{{"BY", "P50", "P99", "MAX"},
					{"key order:default:<id>", ms(r.KeyP50), ms(r.KeyP99), ms(r.KeyMax)},
					{"increment id <id>", ms(r.RefP50), ms(r.RefP99), ms(r.RefMax)}})
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&runs, "run", "rate,lag,trail", "runs, comma-separated: rate, lag, trail")
	f.StringVar(&clickhouse, "clickhouse", "", "ClickHouse native-protocol host:port (default: start this machine's clickhouse-server)")
	f.IntVar(&messages, "messages", 200_000, "rate: messages in the backlog")
	f.Float64Var(&rate, "rate", 5000, "lag: messages offered per second")
	f.DurationVar(&duration, "duration", 20*time.Second, "lag: measured length")
	f.DurationVar(&warmup, "warmup", 3*time.Second, "lag: unmeasured lead-in")
	f.IntVar(&trailRows, "trail-rows", 1_000_000, "trail: rows in the audit table (10,000,000 takes about half an hour here)")
	f.IntVar(&queries, "queries", 200, "trail: trails timed, by key and by increment id each")
	f.StringArrayVar(&mirrorEnv, "mirror-env", nil, "KEY=VALUE added to audit-mirror's environment (repeatable)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "rate: write this process's CPU profile (mirror and JetStream) to this file")
	return cmd
}
