package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/bench"
)

func newBenchWriterCmd() *cobra.Command {
	var (
		concurrency   string
		latency       time.Duration
		duration      time.Duration
		orders        int
		buyers        int
		invoices      bool
		location      bool
		tokenLifetime time.Duration
		binary        string
	)
	cmd := &cobra.Command{
		Use:   "writer",
		Short: "Drive netsuite-writer against the NetSuite simulator at its concurrency limit",
		Long: `For each account limit C (--concurrency 5,15,45) starts an embedded JetStream server and the
NetSuite simulator with that limit and a latency of L (--latency) on every call, publishes a backlog
of sales order commands (orders from buyers who order several times; --invoices adds a transform
invoice per order), runs netsuite-writer with a budget of C (in this process, or --binary as its own
process) and measures from the first settled command to the last:

  records/s            sales orders written per second
  records/s ÷ (C/L)    1.0 would need a single NetSuite call per order
  calls/s ÷ (C/L)      how full the writer kept the account's concurrency
  calls/order          NetSuite API calls per order (customer and invoice calls included)
  429                  share of calls the account refused
  tokens/h             token exchanges per hour, and one per renewal for comparison`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cs []int
			for _, f := range strings.Split(concurrency, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil || n < 1 {
					return fmt.Errorf("--concurrency %q: want positive integers separated by commas", concurrency)
				}
				cs = append(cs, n)
			}
			var results []bench.WriterResult
			for _, c := range cs {
				o := bench.WriterOptions{Concurrency: c, Latency: latency, Duration: duration, Orders: orders, Buyers: buyers,
					Invoices: invoices, Location: location, TokenLifetime: tokenLifetime, Binary: binary}
				bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(cmd.ErrOrStderr()),
					progressbar.OptionSetDescription(fmt.Sprintf("C=%d L=%v", c, latency)), progressbar.OptionClearOnFinish(),
					progressbar.OptionSetVisibility(isTerminal(cmd.ErrOrStderr())))
				o.Progress = func(int) { _ = bar.Add(1) }
				r, err := bench.RunWriter(cmd.Context(), o)
				_ = bar.Finish()
				if err != nil {
					return fmt.Errorf("bench writer with C=%d: %w", c, err)
				}
				results = append(results, r)
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), results)
			}
			rows := [][]string{{"C", "L", "MODE", "ORDERS", "FAILED", "SECONDS", "RECORDS/s", "RECORDS/s÷(C/L)", "CALLS/s÷(C/L)",
				"CALLS/ORDER", "429", "TOKENS/h", "(1/RENEWAL)", "PEAK", "AVG IN FLIGHT"}}
			for _, r := range results {
				rows = append(rows, []string{fmt.Sprint(r.Concurrency), r.Latency.String(), r.Mode, fmt.Sprint(r.Orders), fmt.Sprint(r.Failed),
					fmt.Sprintf("%.1f", r.Elapsed.Seconds()), fmt.Sprintf("%.1f", r.RecordsPerSec), fmt.Sprintf("%.3f", r.RecordsRatio),
					fmt.Sprintf("%.3f", r.Efficiency), fmt.Sprintf("%.2f", r.CallsPerOrder), fmt.Sprintf("%.2f%%", 100*r.Share429),
					fmt.Sprintf("%.0f", r.TokensPerHour), fmt.Sprintf("%.0f", r.TokensExpected), fmt.Sprint(r.PeakOffered), fmt.Sprintf("%.1f", r.AvgInFlight)})
			}
			printTable(cmd.OutOrStdout(), rows)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&concurrency, "concurrency", "5,15,45", "account concurrency limits C to run, comma-separated")
	f.DurationVar(&latency, "latency", 200*time.Millisecond, "simulated NetSuite latency L of every call")
	f.DurationVar(&duration, "duration", 30*time.Second, "about how long each run lasts (sizes --orders)")
	f.IntVar(&orders, "orders", 0, "orders per run (0: sized from --duration)")
	f.IntVar(&buyers, "buyers", 0, "distinct buyers (0: a third of the orders)")
	f.BoolVar(&invoices, "invoices", false, "add a transform invoice per order")
	f.BoolVar(&location, "location", false, "the simulator sends Location on PUT upserts (saves the read-back)")
	f.DurationVar(&tokenLifetime, "token-lifetime", time.Hour, "lifetime of the simulator's access tokens")
	f.StringVar(&binary, "binary", "", "run this netsuite-writer binary as a separate process instead of in this process")
	return cmd
}
