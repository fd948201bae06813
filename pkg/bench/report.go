package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// ReportOptions configure RunReport: the whole flow at increasing load.
type ReportOptions struct {
	BinDir string // BuildSystem's output
	Sync   string // JetStream sync_interval of every part
	// Rates are the zero-latency pipeline steps, ascending; the steps stop
	// after the first one that does not keep pace. Each places
	// max(MinOrders, rate × Step) orders.
	Rates     []float64
	Step      time.Duration
	MinOrders int
	// Realistic is the NetSuite the second part runs against: latency L per
	// call and an account limit C. It runs once below the writer's capacity
	// (latency with NetSuite's share) and once above it (records/s ÷ C/L),
	// RealisticOrders each.
	RealisticLatency time.Duration
	RealisticLimit   int
	RealisticOrders  int
	ConfirmRetry     time.Duration
	// Ingest runs ingest's open-loop part first: IngestRate fixed, then
	// find-max under IngestSLO.
	Ingest     bool
	IngestRate float64
	IngestSLO  time.Duration
	Cache      string // signed webhooks across runs (see TargetOptions)
	// ClickHouse is a server's host:port for audit lag ("" = no audit).
	ClickHouse string
	// ProfileDir keeps CPU profiles of every service of every pipeline
	// run, under <rate>/.
	ProfileDir string
	Command    string // how the report was asked for, for the record
	Progress   func(string)
}

// Report is one `mlc bench pipeline` run, written as Markdown and JSON.
type Report struct {
	Command  string    `json:"command"`
	Machine  Machine   `json:"machine"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Sync     string    `json:"sync"`

	Ingest *IngestReport `json:"ingest,omitempty"`
	// Throughput are the zero-latency steps; MaxRate the highest one that
	// kept pace.
	Throughput []PipelineRun `json:"throughput"`
	MaxRate    float64       `json:"max_rate_per_s"`
	// Capacity is the realistic NetSuite below the writer's capacity,
	// Overload above it.
	Capacity *PipelineRun `json:"capacity,omitempty"`
	Overload *PipelineRun `json:"overload,omitempty"`
	Targets  []Target     `json:"targets"`
}

// IngestReport is ingest alone under open-loop webhooks.
type IngestReport struct {
	SLO   time.Duration `json:"slo_ns"`
	Fixed Result        `json:"fixed"`
	Max   Result        `json:"max"`
	Steps []Result      `json:"steps"`
}

// Target is one of the targets against what was measured.
type Target struct {
	What     string `json:"what"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// Machine describes where the report was taken.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryGiB int    `json:"memory_gib"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`
}

func readMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = int((kb + 1<<19) >> 20)
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// loadAverage is the 1, 5 and 15 minute load average.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// RunReport runs ingest alone (open loop), the pipeline at increasing rates
// with a NetSuite that answers at once, and the pipeline against a NetSuite
// with realistic latency and concurrency, each part on fresh processes.
func RunReport(ctx context.Context, o ReportOptions) (Report, error) {
	rep := Report{Command: o.Command, Machine: readMachine(), Started: time.Now().UTC(), Sync: o.Sync}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if o.Step <= 0 {
		o.Step = 10 * time.Second
	}
	if o.MinOrders <= 0 {
		o.MinOrders = 200
	}
	if o.Ingest {
		ir, err := ingestPart(ctx, o, progress)
		if err != nil {
			return rep, fmt.Errorf("ingest: %w", err)
		}
		rep.Ingest = ir
	}
	for _, rate := range o.Rates {
		run, err := RunPipeline(ctx, PipelineOptions{BinDir: o.BinDir, Rate: rate, Orders: max(o.MinOrders, int(rate*o.Step.Seconds())),
			Sync: o.Sync, ConfirmRetry: o.ConfirmRetry, ClickHouse: o.ClickHouse, Progress: progress, ProfileDir: profileDir(o.ProfileDir, rate, 0)})
		if err != nil {
			return rep, fmt.Errorf("pipeline at %g/s: %w", rate, err)
		}
		rep.Throughput = append(rep.Throughput, run)
		progress(fmt.Sprintf("rate %.4g/s: %d of %d written, %.1f/s, p50 %.0f ms, p99 %.0f ms", rate, run.Written, run.Orders, run.Achieved, run.Latency.P50, run.Latency.P99))
		if !run.KeptPace() {
			break
		}
		rep.MaxRate = rate
	}
	if o.RealisticLatency > 0 && o.RealisticOrders > 0 {
		if o.RealisticLimit <= 0 {
			o.RealisticLimit = 5
		}
		// A guest's order costs about seven calls (customer lookup and
		// upsert, the sales order's safe write): capacity is about C/(7L).
		capacity := float64(o.RealisticLimit) / o.RealisticLatency.Seconds() / 7
		for i, rate := range []float64{round(capacity / 2), round(capacity * 2)} {
			run, err := RunPipeline(ctx, PipelineOptions{BinDir: o.BinDir, Rate: rate, Orders: o.RealisticOrders, Sync: o.Sync,
				NetSuiteLatency: o.RealisticLatency, AccountLimit: o.RealisticLimit, ConfirmRetry: o.ConfirmRetry,
				ClickHouse: o.ClickHouse, Progress: progress, Wait: 5 * time.Minute, ProfileDir: profileDir(o.ProfileDir, rate, o.RealisticLatency)})
			if err != nil {
				return rep, fmt.Errorf("pipeline against NetSuite latency %v: %w", o.RealisticLatency, err)
			}
			if i == 0 {
				rep.Capacity = &run
			} else {
				rep.Overload = &run
			}
		}
	}
	rep.Machine.LoadEnd = loadAverage()
	rep.Finished = time.Now().UTC()
	rep.Targets = rep.targets()
	return rep, nil
}

// profileDir is where one run's profiles go ("" for none).
func profileDir(root string, rate float64, latency time.Duration) string {
	if root == "" {
		return ""
	}
	name := strconv.FormatFloat(rate, 'f', 1, 64)
	if latency > 0 {
		name += "-" + latency.String()
	}
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ""
	}
	return dir
}

func ingestPart(ctx context.Context, o ReportOptions, progress func(string)) (*IngestReport, error) {
	rate := o.IngestRate
	if rate <= 0 {
		rate = 1000
	}
	slo := o.IngestSLO
	if slo <= 0 {
		slo = 5 * time.Millisecond
	}
	progress(fmt.Sprintf("ingest: nats-server and ingest as processes, %g/s open loop, then find-max under p99 %v ...", rate, slo))
	tg, err := StartIngest(ctx, TargetOptions{Sync: o.Sync, IngestBinary: o.BinDir + "/ingest", NATSBinary: o.BinDir + "/" + natsBinary, Cache: o.Cache})
	if err != nil {
		return nil, err
	}
	defer tg.Stop()
	warmup, length := 2*time.Second, 8*time.Second
	reqs, err := tg.Requests(int(rate*(warmup+length).Seconds()), nil)
	if err != nil {
		return nil, err
	}
	ir := &IngestReport{SLO: slo, Fixed: tg.OpenLoop(ctx, fmt.Sprintf("fixed %.0f/s", rate), reqs, RunOptions{Rate: rate, Warmup: warmup})}
	// From half the fixed rate: a first step that misses the SLO ends the
	// search, and low rates miss it more often here (a sync stall or the
	// generator's own timer lag is a larger share of a few hundred requests).
	best, steps, err := tg.FindMax(ctx, "find-max", FindMaxOptions{SLO: slo, Start: rate / 2, Step: 4 * time.Second,
		Progress: func(r Result) { progress(fmt.Sprintf("ingest: %.0f/s p99 %v", r.Rate, r.P99)) }})
	if err != nil {
		return nil, err
	}
	ir.Max, ir.Steps = best, steps
	return ir, nil
}

// targets sets the targets against the measurements.
func (r Report) targets() []Target {
	var out []Target
	if r.Ingest != nil {
		out = append(out, Target{What: "ingest: max rate at p99 ≤ " + r.Ingest.SLO.String() + " (open loop, sync " + r.Sync + ")",
			Target: "≥ 3,000/s (1s), ≥ 2,000/s (always)", Measured: fmt.Sprintf("%.0f/s", r.Ingest.Max.Rate),
			Met: (r.Sync == "always" && r.Ingest.Max.Rate >= 2000) || (r.Sync != "always" && r.Ingest.Max.Rate >= 3000)})
	}
	if len(r.Throughput) > 0 {
		best := 0.0
		for _, t := range r.Throughput {
			best = max(best, t.Achieved)
		}
		out = append(out, Target{What: "orders/s webhook to NetSuite record, NetSuite latency 0", Target: "≥ 5,000/s",
			Measured: fmt.Sprintf("kept pace up to %g/s offered; at most %.0f/s achieved", r.MaxRate, best), Met: r.MaxRate >= 5000})
	}
	if r.Overload != nil {
		out = append(out, Target{What: fmt.Sprintf("records/s ÷ (C/L), C = %d, L = %d ms", r.Overload.AccountLimit, r.Overload.NetSuiteLatencyMS),
			Target: "≥ 0.95", Measured: fmt.Sprintf("%.2f (calls/s ÷ (C/L) %.2f, %.1f calls per order)", r.Overload.RecordsRatio, r.Overload.CallsRatio, r.Overload.CallsPerOrder),
			Met: r.Overload.RecordsRatio >= 0.95})
	}
	if r.Capacity != nil {
		out = append(out, Target{What: "pipeline's own share of webhook → sales order at p50 (beyond the writer's NetSuite calls)",
			Target: "< 100 ms", Measured: fmt.Sprintf("%.0f ms (whole p50 %.0f ms, writer p50 %.0f ms)", r.Capacity.Pipeline.P50, r.Capacity.Latency.P50, r.Capacity.Writer.P50),
			Met: r.Capacity.Pipeline.P50 < 100})
	}
	return out
}

// Markdown writes the report for BENCHMARKS.md.
func (r Report) Markdown(w io.Writer) error {
	b := &strings.Builder{}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## `mlc bench pipeline` report, %s\n\n", r.Started.Format("2006-01-02 15:04 UTC"))
	p("Machine: %d CPUs (%s), %d GiB, Linux %s, %s; load average %s at the start, %s at the end. Command: `%s`. JetStream `sync_interval` %s. ",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryGiB, r.Machine.Kernel, r.Machine.Go, r.Machine.LoadStart, r.Machine.LoadEnd, r.Command, r.Sync)
	p("Every part runs as an operator runs it: nats-server and each service its own process (built from this checkout); the two simulators and the load generator share the bench's process (`bench` below). Load is open loop: order *i* is due at start + *i*/rate whatever happened before it, and latency counts from that due time.\n\n")
	p("### Targets\n\n| what | target | measured | met |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		met := "no"
		if t.Met {
			met = "yes"
		}
		p("| %s | %s | %s | %s |\n", t.What, t.Target, t.Measured, met)
	}
	if in := r.Ingest; in != nil {
		p("\n### Ingest alone (signed order webhooks, open loop)\n\n| run | ok/s | p50 | p99 | p99.9 | send lag p99 | ingest CPU ms/webhook | nats-server CPU ms/webhook |\n|---|---|---|---|---|---|---|---|\n")
		for _, s := range append([]Result{in.Fixed}, in.Steps...) {
			p("| %s | %.0f | %s | %s | %s | %s | %.3f | %.3f |\n", s.Name, s.Throughput, dur(s.P50), dur(s.P99), dur(s.P999), dur(s.SendLagP99), s.CPU.Ingest, s.CPU.NATS)
		}
		if in.Max.Rate > 0 {
			p("\nHighest rate holding p99 ≤ %v: **%.0f/s**.\n", in.SLO, in.Max.Rate)
		} else {
			p("\nNo rate tried held p99 ≤ %v.\n", in.SLO)
		}
	}
	if len(r.Throughput) > 0 {
		p("\n### The pipeline, NetSuite answering at once (webhook → sales order in NetSuite)\n\n")
		runTable(p, r.Throughput)
		p("\nHighest offered rate kept (every order written once, achieved ≥ 90 %% of offered): **%g/s**.\n", r.MaxRate)
		p("\nCONNECTOR CPU/ORDER sums nats-server and the five services; ITS CEILING is the orders/s %d cores could carry at that cost with nothing else on them (the simulators and the load generator, `bench` below, share the cores here). CPU per order by process (ms) and peak memory (MiB):\n\n", r.Machine.CPUs)
		usageTable(p, r.Throughput)
		p("\nMessages nats-server handled per order (in, out: publishes, acks, fetches, KV operations):")
		for _, x := range r.Throughput {
			p(" %g/s: %.1f, %.1f;", round(x.Rate), x.NATSInPerOrder, x.NATSOutPerOrder)
		}
		p("\n")
	}
	if r.Capacity != nil || r.Overload != nil {
		var runs []PipelineRun
		for _, x := range []*PipelineRun{r.Capacity, r.Overload} {
			if x != nil {
				runs = append(runs, *x)
			}
		}
		p("\n### The pipeline against a NetSuite with latency L = %d ms and account limit C = %d\n\n", runs[0].NetSuiteLatencyMS, runs[0].AccountLimit)
		p("Below the writer's capacity (latency, with NetSuite's share: WRITER is the writer's time on the order, its NetSuite calls; PIPELINE the rest), then above it (records/s ÷ C/L):\n\n")
		runTable(p, runs)
		p("\n| rate | NetSuite calls | calls/order | 429s | records/s | records/s ÷ (C/L) | calls/s ÷ (C/L) |\n|---|---|---|---|---|---|---|\n")
		for _, x := range runs {
			p("| %g | %d | %.1f | %d | %.2f | %.2f | %.2f |\n", round(x.Rate), x.Calls, x.CallsPerOrder, x.Throttled, x.RecordsPerSec, x.RecordsRatio, x.CallsRatio)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func runTable(p func(string, ...any), runs []PipelineRun) {
	p("| offered/s | orders | written | failed | dup | achieved/s | p50 | p99 | max | writer p50 | pipeline p50 | pipeline p99 | connector CPU/order | its ceiling/s | audit lag p50/p99 |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range runs {
		lag := "-"
		if len(x.AuditLag) > 0 {
			var p50, p99 float64
			for _, l := range x.AuditLag {
				p50, p99 = max(p50, l.P50MS), max(p99, l.P99MS)
			}
			lag = fmt.Sprintf("%.0f / %.0f ms", p50, p99)
		}
		p("| %g | %d | %d | %d | %d | %.1f | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.2f ms | %.0f | %s |\n",
			round(x.Rate), x.Orders, x.Written, x.Failed, x.Duplicates, x.Achieved, x.Latency.P50, x.Latency.P99, x.Latency.Max,
			x.Writer.P50, x.Pipeline.P50, x.Pipeline.P99, x.CPUPerOrderMS, x.CPUCeiling, lag)
	}
}

func usageTable(p func(string, ...any), runs []PipelineRun) {
	if len(runs) == 0 || len(runs[0].Usage) == 0 {
		return
	}
	p("| offered/s |")
	for _, u := range runs[0].Usage {
		p(" %s |", u.Name)
	}
	p("\n|---|")
	for range runs[0].Usage {
		p("---|")
	}
	p("\n")
	for _, x := range runs {
		p("| %g |", round(x.Rate))
		for _, u := range x.Usage {
			p(" %.2f ms, %.0f MiB |", u.CPUPerOrder, u.PeakRSSMiB)
		}
		p("\n")
	}
}

func dur(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func round(v float64) float64 { return float64(int(v*10+0.5)) / 10 }
