package main

import (
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/bench"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure the services on this machine"}
	cmd.AddCommand(newBenchIngestCmd(), newBenchWriterCmd())
	return cmd
}

func newBenchIngestCmd() *cobra.Command {
	var (
		rate        float64
		duration    time.Duration
		requests    int
		concurrency int
		mode        string
		sync        string
	)
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Drive signed order webhooks at ingest and report throughput and latency",
		Long: `Starts an embedded JetStream server and ingest in this process, prepares distinct
order webhooks (real Commerce-simulator payloads, signed the Commerce way), then runs:

  fixed   --rate requests/s for --duration, open loop: latency counts from when a
          request was due, so queueing shows up in p99
  max     --requests as fast as ingest answers with --concurrency senders

Latency is request to {"op":"success"}: verified, stored and acknowledged by JetStream.
Both runs are repeated with JetStream's default sync interval and with sync_interval
always (--sync default|always|both).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var syncs []bool
			switch sync {
			case "both":
				syncs = []bool{false, true}
			case "default":
				syncs = []bool{false}
			case "always":
				syncs = []bool{true}
			default:
				return fmt.Errorf("--sync %q: want default, always or both", sync)
			}
			fixedN := int(rate * duration.Seconds())
			var results []bench.Result
			for _, always := range syncs {
				label := "sync default"
				if always {
					label = "sync always"
				}
				tg, err := bench.StartIngest(ctx, bench.TargetOptions{Mode: mode, SyncAlways: always})
				if err != nil {
					return err
				}
				bar := progressbar.NewOptions(fixedN+requests, progressbar.OptionSetWriter(cmd.ErrOrStderr()),
					progressbar.OptionSetDescription("signing webhooks ("+label+")"), progressbar.OptionClearOnFinish(),
					progressbar.OptionSetVisibility(isTerminal(cmd.ErrOrStderr())))
				reqs, err := tg.Requests(fixedN+requests, func() { _ = bar.Add(1) })
				_ = bar.Finish()
				if err != nil {
					tg.Stop()
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "running %s: %d req at %.0f/s, then %d req with %d senders\n", label, fixedN, rate, requests, concurrency)
				results = append(results,
					tg.FixedRate(ctx, fmt.Sprintf("fixed %.0f/s, %s", rate, label), reqs[:fixedN], rate),
					tg.MaxThroughput(ctx, fmt.Sprintf("max, %d senders, %s", concurrency, label), reqs[fixedN:], concurrency))
				tg.Stop()
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), results)
			}
			rows := [][]string{{"RUN", "REQUESTS", "ERRORS", "THROUGHPUT/s", "P50", "P90", "P99", "MAX"}}
			for _, r := range results {
				rows = append(rows, []string{r.Name, fmt.Sprint(r.Requests), fmt.Sprint(r.Errors), fmt.Sprintf("%.0f", r.Throughput),
					ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max)})
			}
			printTable(cmd.OutOrStdout(), rows)
			for _, r := range results {
				if r.FirstError != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: first error: %s\n", r.Name, r.FirstError)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&rate, "rate", 1000, "requests per second of the fixed-rate run")
	f.DurationVar(&duration, "duration", 5*time.Second, "length of the fixed-rate run")
	f.IntVar(&requests, "requests", 20000, "requests of the max-throughput run")
	f.IntVar(&concurrency, "concurrency", 32, "senders of the max-throughput run")
	f.StringVar(&mode, "mode", "rsa", "webhook signatures: rsa (Commerce's scheme) or hmac")
	f.StringVar(&sync, "sync", "both", "JetStream fsync: default, always or both")
	return cmd
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
