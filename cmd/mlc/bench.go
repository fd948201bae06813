package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/bench"
	"github.com/ml-connector/ml-connector/pkg/service"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure the services on this machine"}
	cmd.AddCommand(newBenchIngestCmd(), newBenchWriterCmd(), newBenchPipelineCmd())
	cmd.AddCommand(newBenchInventoryCmd(), newBenchAuditCmd())
	return cmd
}

// benchIngestFlags are `mlc bench ingest`'s settings.
type benchIngestFlags struct {
	runs        string
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	slo         time.Duration
	startRate   float64
	maxRate     float64
	step        time.Duration
	requests    int
	concurrency int
	mode        string
	syncs       string
	processes   bool
	ingestBin   string
	natsBin     string
	cache       string
	ingestEnv   []string
	floors      string
}

func newBenchIngestCmd() *cobra.Command {
	var f benchIngestFlags
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Drive signed order webhooks at ingest and report latency, max rate and CPU per webhook",
		Long: `Starts JetStream and ingest (in this process, or with --processes each as its own process,
as an operator runs them), prepares distinct order webhooks (real Commerce-simulator payloads,
2-4 KB, signed the Commerce way) and runs, for each --sync setting:

  fixed     open loop at --rate for --duration after --warmup: request i is due at
            start + i/rate whatever happened before it, latency counts from that due time
            (no coordinated omission), percentiles from an HdrHistogram
  find-max  fixed-rate steps of --step from --start-rate, doubling until p99 exceeds --slo
            (or a request fails), then bisecting: the highest rate that held the SLO
  closed    --requests from --concurrency senders as fast as ingest answers (closed loop:
            it hides queueing; for comparison with older figures only)

Latency is request to {"op":"success"}: verified, stored and acknowledged by JetStream.
CPU is seconds per 1,000 webhooks (= ms per webhook) from /proc/<pid>/stat of each process;
a part that runs inside the bench's own process is counted in the BENCH column with the
load generator. The load generator always shares the machine.

--sync takes JetStream sync_interval settings: default (the server's, fsync every 2 min),
a duration such as 1s, always (fsync before every ack, the production setting).
Signed webhooks are cached in --cache (RSA signing costs far more than ingest does).

--floor also runs the fixed-rate load, per --sync setting, against floor servers, each its
own process (this executable): the least a webhook receiver does, to set ingest's CPU
against. net/http and fasthttp read the body and answer {"op":"success"}; their "+publish"
kinds first publish the body to COMMERCE and wait for JetStream's ack. The lines under the
table say what ingest adds to each.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBenchIngest(cmd, f) },
	}
	cmd.AddCommand(&cobra.Command{
		Use:    "floor",
		Short:  "A floor server process of mlc bench ingest --floor (kind in $" + bench.EnvFloor + ")",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.RunFloor(cmd.Context(), os.Getenv(bench.EnvFloor), service.Environ())
		},
	})
	fl := cmd.Flags()
	fl.StringVar(&f.runs, "run", "fixed,find-max", "runs, comma-separated: fixed, find-max, closed")
	fl.Float64Var(&f.rate, "rate", 1000, "requests per second of the fixed-rate run")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "measured length of the fixed-rate run")
	fl.DurationVar(&f.warmup, "warmup", 2*time.Second, "unmeasured lead-in of the fixed-rate run (find-max steps use 1s)")
	fl.DurationVar(&f.slo, "slo", 5*time.Millisecond, "find-max: the p99 latency a rate must hold")
	fl.Float64Var(&f.startRate, "start-rate", 500, "find-max: first rate")
	fl.Float64Var(&f.maxRate, "max-rate", 20000, "find-max: highest rate tried")
	fl.DurationVar(&f.step, "step", 5*time.Second, "find-max: measured length of each rate")
	fl.IntVar(&f.requests, "requests", 20000, "closed: requests")
	fl.IntVar(&f.concurrency, "concurrency", 32, "closed: senders")
	fl.StringVar(&f.mode, "mode", "rsa", "webhook signatures: rsa (Commerce's scheme) or hmac")
	fl.StringVar(&f.syncs, "sync", "default,always", "JetStream sync_interval settings, comma-separated: default, always, or a duration (1s)")
	fl.BoolVar(&f.processes, "processes", false, "run ingest and nats-server as their own processes (built with go build unless given below)")
	fl.StringVar(&f.ingestBin, "ingest-binary", "", "run this services/ingest binary as its own process")
	fl.StringVar(&f.natsBin, "nats-server", "", "run this nats-server binary as its own process")
	fl.StringVar(&f.cache, "cache", defaultBenchCache(), `directory keeping signed webhooks across runs ("" signs afresh)`)
	fl.StringArrayVar(&f.ingestEnv, "ingest-env", nil, "KEY=VALUE added to a separate ingest process's environment (repeatable)")
	fl.StringVar(&f.floors, "floor", "", "also run the fixed rate against floor servers: all, or of "+strings.Join(bench.Floors(), ", ")+" (comma-separated)")
	return cmd
}

func defaultBenchCache() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "mlc", "bench")
}

func runBenchIngest(cmd *cobra.Command, f benchIngestFlags) error {
	ctx := cmd.Context()
	errOut := cmd.ErrOrStderr()
	runs := map[string]bool{}
	for _, r := range strings.Split(f.runs, ",") {
		r = strings.TrimSpace(r)
		if r != "fixed" && r != "find-max" && r != "closed" {
			return fmt.Errorf("--run %q: want fixed, find-max or closed", r)
		}
		runs[r] = true
	}
	var syncs []string
	for _, s := range strings.Split(f.syncs, ",") {
		s = strings.TrimSpace(s)
		if _, _, err := bench.ParseSync(s); err != nil {
			return err
		}
		syncs = append(syncs, s)
	}
	env := map[string]string{}
	for _, kv := range f.ingestEnv {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--ingest-env %q: want KEY=VALUE", kv)
		}
		env[k] = v
	}
	floors, err := parseFloors(f.floors)
	if err != nil {
		return err
	}
	if len(floors) > 0 && !runs["fixed"] {
		return fmt.Errorf("--floor runs the fixed rate: add fixed to --run")
	}
	var self string
	if len(floors) > 0 {
		if self, err = os.Executable(); err != nil {
			return fmt.Errorf("--floor runs this executable as the floor servers: %w", err)
		}
	}
	if f.processes && (f.ingestBin == "" || f.natsBin == "") {
		dir, err := os.MkdirTemp("", "mlc-bench-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintln(errOut, "building services/ingest and nats-server ...")
		ib, nb, err := bench.BuildBinaries(ctx, dir)
		if err != nil {
			return err
		}
		if f.ingestBin == "" {
			f.ingestBin = ib
		}
		if f.natsBin == "" {
			f.natsBin = nb
		}
	}
	var results []bench.Result
	var maxes []bench.Result
	for _, s := range syncs {
		tg, err := bench.StartIngest(ctx, bench.TargetOptions{Mode: f.mode, Sync: s, IngestBinary: f.ingestBin,
			NATSBinary: f.natsBin, IngestEnv: env, Cache: f.cache})
		if err != nil {
			return err
		}
		err = func() error {
			defer tg.Stop()
			take := func(n int, what string) ([]bench.Request, error) {
				bar := progressbar.NewOptions(n, progressbar.OptionSetWriter(errOut),
					progressbar.OptionSetDescription("webhooks for "+what), progressbar.OptionClearOnFinish(),
					progressbar.OptionSetVisibility(isTerminal(errOut)))
				defer bar.Finish()
				return tg.Requests(n, func() { _ = bar.Add(1) })
			}
			if runs["fixed"] {
				reqs, err := take(int(f.rate*(f.warmup+f.duration).Seconds()), "fixed rate")
				if err != nil {
					return err
				}
				fmt.Fprintf(errOut, "sync %s, %s: %.0f/s open loop for %v (+%v warm-up)\n", s, tg.Where(), f.rate, f.duration, f.warmup)
				results = append(results, tg.OpenLoop(ctx, fmt.Sprintf("fixed %.0f/s", f.rate), reqs, bench.RunOptions{Rate: f.rate, Warmup: f.warmup}))
			}
			if runs["find-max"] {
				fmt.Fprintf(errOut, "sync %s, %s: find-max under p99 %v, steps of %v from %.0f/s (signing each step's webhooks first)\n",
					s, tg.Where(), f.slo, f.step, f.startRate)
				best, steps, err := tg.FindMax(ctx, "find-max", bench.FindMaxOptions{SLO: f.slo, Start: f.startRate, Max: f.maxRate, Step: f.step,
					Progress: func(r bench.Result) {
						fmt.Fprintf(errOut, "  %.0f/s: p99 %s, %d errors, %.0f ok/s -> %s\n", r.Rate, ms(r.P99), r.Errors, r.Throughput, passFail(r.Passes(f.slo)))
					}})
				results = append(results, steps...)
				if err != nil {
					return err
				}
				best.Name = fmt.Sprintf("max at p99 <= %v: %.0f/s", f.slo, best.Rate)
				if best.Rate == 0 {
					best.Name = fmt.Sprintf("max at p99 <= %v: none (%.0f/s failed)", f.slo, f.startRate)
				}
				best.Sync, best.Where = s, tg.Where()
				maxes = append(maxes, best)
			}
			if runs["closed"] {
				reqs, err := take(f.requests, "closed loop")
				if err != nil {
					return err
				}
				fmt.Fprintf(errOut, "sync %s, %s: %d requests, %d senders, closed loop\n", s, tg.Where(), f.requests, f.concurrency)
				results = append(results, tg.ClosedLoop(ctx, fmt.Sprintf("closed, %d senders", f.concurrency), reqs, f.concurrency))
			}
			return nil
		}()
		if err != nil {
			return err
		}
		for _, kind := range floors {
			r, err := benchFloor(ctx, f, env, s, kind, self, errOut)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	if jsonOutput(cmd) {
		return printJSON(cmd.OutOrStdout(), map[string]any{"runs": results, "max": maxes})
	}
	out := cmd.OutOrStdout()
	printTable(out, benchRows(append(results, maxes...)))
	fmt.Fprintf(out, "\nCPU in seconds per 1,000 webhooks (= ms per webhook); BENCH holds the %s.\n", benchHolds(results))
	for _, line := range floorLines(results) {
		fmt.Fprintln(out, line)
	}
	for _, r := range results {
		if r.FirstError != "" {
			fmt.Fprintf(out, "%s, sync %s: first error: %s\n", r.Name, r.Sync, r.FirstError)
		}
	}
	return nil
}

func benchRows(results []bench.Result) [][]string {
	rows := [][]string{{"RUN", "SERVER", "SYNC", "WHERE", "REQUESTS", "ERRORS", "OK/s", "P50", "P90", "P99", "P99.9", "MAX", "SEND LAG P99",
		"INGEST CPU", "NATS CPU", "BENCH CPU"}}
	cpu := func(v float64, separate bool) string {
		if !separate {
			return "-"
		}
		return fmt.Sprintf("%.3f", v)
	}
	for _, r := range results {
		rows = append(rows, []string{r.Name, r.Server, r.Sync, r.Where, fmt.Sprint(r.Requests), fmt.Sprint(r.Errors), fmt.Sprintf("%.0f", r.Throughput),
			ms(r.P50), ms(r.P90), ms(r.P99), ms(r.P999), ms(r.Max), ms(r.SendLagP99),
			cpu(r.CPU.Ingest, !strings.Contains(r.CPU.BenchHolds, "ingest")), cpu(r.CPU.NATS, !strings.Contains(r.CPU.BenchHolds, "nats")),
			cpu(r.CPU.Bench, true)})
	}
	return rows
}

func benchHolds(results []bench.Result) string {
	for _, r := range results {
		if r.CPU.BenchHolds != "" {
			return r.CPU.BenchHolds
		}
	}
	return "load generator"
}

func passFail(ok bool) string {
	if ok {
		return "holds"
	}
	return "fails"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// parseFloors reads --floor: "", "all" or floor kinds, comma-separated.
func parseFloors(s string) ([]string, error) {
	switch strings.TrimSpace(s) {
	case "":
		return nil, nil
	case "all":
		return bench.Floors(), nil
	}
	var kinds []string
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if !slices.Contains(bench.Floors(), k) {
			return nil, fmt.Errorf("--floor %q: want all or of %s", k, strings.Join(bench.Floors(), ", "))
		}
		kinds = append(kinds, k)
	}
	return kinds, nil
}

// benchFloor runs the fixed-rate load against one floor server, as its own
// process, with JetStream as ingest had it.
func benchFloor(ctx context.Context, f benchIngestFlags, env map[string]string, sync, kind, self string, errOut io.Writer) (bench.Result, error) {
	tg, err := bench.StartIngest(ctx, bench.TargetOptions{Mode: f.mode, Sync: sync, Floor: kind, IngestBinary: self,
		IngestArgs: []string{"bench", "ingest", "floor"}, NATSBinary: f.natsBin, IngestEnv: env, Cache: f.cache})
	if err != nil {
		return bench.Result{}, err
	}
	defer tg.Stop()
	reqs, err := tg.Requests(int(f.rate*(f.warmup+f.duration).Seconds()), nil)
	if err != nil {
		return bench.Result{}, err
	}
	fmt.Fprintf(errOut, "sync %s, floor %s: %.0f/s open loop for %v (+%v warm-up)\n", sync, kind, f.rate, f.duration, f.warmup)
	return tg.OpenLoop(ctx, fmt.Sprintf("fixed %.0f/s", f.rate), reqs, bench.RunOptions{Rate: f.rate, Warmup: f.warmup}), nil
}

// floorLines say, per sync setting, how much CPU per webhook ingest spends
// over each floor server that ran at the same rate.
func floorLines(results []bench.Result) []string {
	var lines []string
	for _, in := range results {
		if in.Server != "ingest" || in.Loop != "open" || strings.Contains(in.CPU.BenchHolds, "ingest") {
			continue
		}
		for _, fl := range results {
			if !strings.HasPrefix(fl.Server, "floor ") || fl.Sync != in.Sync || fl.Rate != in.Rate || fl.Name != in.Name {
				continue
			}
			lines = append(lines, fmt.Sprintf("sync %s, %.0f/s: ingest %.3f ms per webhook = %s %.3f + %.3f of its own (%.0f %%)",
				in.Sync, in.Rate, in.CPU.Ingest, fl.Server, fl.CPU.Ingest, in.CPU.Ingest-fl.CPU.Ingest,
				100*(in.CPU.Ingest-fl.CPU.Ingest)/max(in.CPU.Ingest, 1e-9)))
		}
	}
	return lines
}
