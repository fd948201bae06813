package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/bench"
	"github.com/ml-connector/ml-connector/pkg/chserver"
)

type benchPipelineFlags struct {
	rates, sync, report, binDir, clickhouse, cache, profile string
	step, confirm, latency, slo                             time.Duration
	minOrders, limit, realisticOrders                       int
	ingest                                                  bool
	ingestRate                                              float64
}

func newBenchPipelineCmd() *cobra.Command {
	var f benchPipelineFlags
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "The whole flow at increasing load, as deployed: a Markdown and JSON report",
		Long: `Builds every service and nats-server from this checkout and runs them as their own
processes, with both simulators and the load generator in this process and, when the machine
has clickhouse-server (or --clickhouse names one), the audit mirror into ClickHouse. Then:

 1. ingest alone: signed order webhooks open loop at --ingest-rate, then find-max under
    p99 --slo (latency from each request's due time; CPU per webhook per process);
 2. the pipeline with a NetSuite that answers at once, at each --rate (orders placed in the
    Commerce simulator open loop, max(--min-orders, rate × --step) per step, a fresh system
    per step), stopping after the first rate it cannot keep: orders/s from webhook to sales
    order, latency p50/p99 with the writer's share split off, CPU and peak memory per
    process, audit lag;
 3. the pipeline against a NetSuite with --netsuite-latency per call and an account limit of
    --netsuite-limit, once below the writer's capacity (latency with NetSuite's share) and
    once above it (records/s ÷ C/L).

Orders are guests' (each a new NetSuite customer). Commerce fires the order webhook before it
commits the order, so transform's first lookup may miss and is repeated after --confirm-retry.
The report goes to --report (Markdown) and the same name with .json.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBenchPipeline(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.rates, "rate", "25,50,100,200,400,800", "orders/s offered with NetSuite answering at once, ascending, comma-separated")
	fl.DurationVar(&f.step, "step", 10*time.Second, "length of each rate's order schedule")
	fl.IntVar(&f.minOrders, "min-orders", 200, "fewest orders per rate")
	fl.DurationVar(&f.latency, "netsuite-latency", 200*time.Millisecond, "NetSuite latency per call of part 3 (0 skips it)")
	fl.IntVar(&f.limit, "netsuite-limit", 15, "NetSuite account concurrency limit C of part 3")
	fl.IntVar(&f.realisticOrders, "realistic-orders", 150, "orders per run of part 3")
	fl.DurationVar(&f.confirm, "confirm-retry", 250*time.Millisecond, "MLC_TRANSFORM_CONFIRM_RETRY: how soon transform looks an order up again")
	fl.StringVar(&f.sync, "sync", "1s", "JetStream sync_interval: default, always, or a duration")
	fl.BoolVar(&f.ingest, "ingest", true, "run part 1 (ingest alone)")
	fl.Float64Var(&f.ingestRate, "ingest-rate", 1000, "part 1: webhooks/s of the fixed-rate run")
	fl.DurationVar(&f.slo, "slo", 5*time.Millisecond, "part 1: p99 a find-max rate must hold")
	fl.StringVar(&f.report, "report", "bench-report.md", "Markdown report (the JSON goes next to it, .json)")
	fl.StringVar(&f.binDir, "bin", "", "directory with prebuilt binaries (the services and nats-server) instead of go build")
	fl.StringVar(&f.clickhouse, "clickhouse", "auto", "ClickHouse for audit lag: auto (start this machine's clickhouse-server if any), off, or host:port")
	fl.StringVar(&f.profile, "profile", "", "directory for a CPU profile of every service in every pipeline run (<rate>/<service>.pprof)")
	fl.StringVar(&f.cache, "cache", defaultBenchCache(), `part 1: directory keeping signed webhooks across runs ("" signs afresh)`)
	return cmd
}

func runBenchPipeline(cmd *cobra.Command, f benchPipelineFlags) error {
	ctx := cmd.Context()
	var rates []float64
	for _, r := range splitList(f.rates) {
		v, err := strconv.ParseFloat(r, 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("--rate %q: want positive numbers", r)
		}
		if len(rates) > 0 && v <= rates[len(rates)-1] {
			return fmt.Errorf("--rate %q: rates must ascend", f.rates)
		}
		rates = append(rates, v)
	}
	if f.minOrders < 1 || f.step <= 0 || f.limit < 1 || f.realisticOrders < 0 || f.confirm <= 0 || f.latency < 0 {
		return fmt.Errorf("--min-orders, --step, --netsuite-limit and --confirm-retry must be positive, --realistic-orders and --netsuite-latency not negative")
	}
	if _, _, err := bench.ParseSync(f.sync); err != nil {
		return err
	}
	if !strings.HasSuffix(f.report, ".md") {
		return fmt.Errorf("--report %q: want a .md file", f.report)
	}
	jsonPath := strings.TrimSuffix(f.report, ".md") + ".json"
	// Before minutes of measuring: a report that cannot be written would
	// lose them.
	for _, p := range []string{f.report, jsonPath} {
		fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("--report: %w", err)
		}
		fh.Close()
	}
	errOut := cmd.ErrOrStderr()
	progress := func(s string) { fmt.Fprintf(errOut, "%s %s\n", time.Now().Format("15:04:05"), s) }

	tmp, err := os.MkdirTemp("", "mlc-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	binDir := f.binDir
	if binDir == "" {
		binDir = filepath.Join(tmp, "bin")
		progress("building the services and nats-server ...")
		if err := bench.BuildSystem(ctx, binDir); err != nil {
			return err
		}
	}
	ch := f.clickhouse
	switch ch {
	case "off":
		ch = ""
	case "auto":
		ch = ""
		if bin := chserver.Find(); bin != "" {
			dir := filepath.Join(tmp, "clickhouse")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			progress("starting clickhouse-server for the audit ...")
			srv, err := chserver.Start(bin, dir)
			if err != nil {
				return err
			}
			defer srv.Stop()
			ch = srv.Addr
		} else {
			progress("no clickhouse-server on this machine: audit lag is not measured (--clickhouse host:port names one)")
		}
	}
	rep, err := bench.RunReport(ctx, bench.ReportOptions{
		BinDir: binDir, Sync: f.sync, Rates: rates, Step: f.step, MinOrders: f.minOrders,
		RealisticLatency: f.latency, RealisticLimit: f.limit, RealisticOrders: f.realisticOrders, ConfirmRetry: f.confirm,
		Ingest: f.ingest, IngestRate: f.ingestRate, IngestSLO: f.slo, Cache: f.cache, ClickHouse: ch,
		ProfileDir: f.profile, Command: "mlc " + strings.Join(os.Args[1:], " "), Progress: progress,
	})
	if err != nil {
		return err
	}
	md, err := os.Create(f.report)
	if err != nil {
		return err
	}
	if err := rep.Markdown(md); err != nil {
		md.Close()
		return err
	}
	if err := md.Close(); err != nil {
		return err
	}
	jf, err := os.Create(jsonPath)
	if err != nil {
		return err
	}
	if err := printJSON(jf, rep); err != nil {
		jf.Close()
		return err
	}
	if err := jf.Close(); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if jsonOutput(cmd) {
		return printJSON(out, rep)
	}
	if err := rep.Markdown(out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nreport: %s and %s\n", f.report, jsonPath)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
