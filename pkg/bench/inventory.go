package bench

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// InventoryOptions configure the inventory benchmark: a catalogue of Items
// in the NetSuite simulator answering every call after Latency, the same
// SKUs as Commerce products, and rounds that change one item in Every
// (its price) before a scheduled run.
type InventoryOptions struct {
	Items   int           // default 100,000
	Latency time.Duration // default 50 ms
	Every   int           // default 100 (1 % changed per round)
	// Publisher is the command of the publisher's process, which must run
	// ServePublisher on its stdin and stdout (`mlc bench inventory
	// publisher`, or a test binary's child test). Its environment gets
	// NATS's URL and the master key added to Env's.
	Publisher *exec.Cmd
	// Env is added to the publisher's environment (GOMEMLIMIT,
	// MLC_INVENTORY_MEMORY_LIMIT, MLC_BENCH_CPUPROFILE, MLC_BENCH_MEMPROFILE).
	Env []string
	// Log receives the Commerce writer's log (errors only; default none).
	Log io.Writer
}

// InventoryRound is one run and the writes it caused.
type InventoryRound struct {
	// Run is the publisher's run: read NetSuite, diff, publish.
	Run time.Duration `json:"run_ns"`
	// Written is from the run's start until every change has its SYNC
	// outcome (Commerce has it).
	Written          time.Duration `json:"written_ns"`
	Pages            int64         `json:"suiteql_pages"`
	NetSuiteRequests int           `json:"netsuite_requests"`
	Changed          int           `json:"changed_skus"` // changes published
	CommerceRequests int           `json:"commerce_requests"`
}

// PublisherStats are the publisher process's memory figures in bytes:
// its peak resident set (VmHWM) and Go heap in use since Prime (the timed
// rounds), its peak resident set before (the first, full run and start-up),
// and the soft memory limit it ran with.
type PublisherStats struct {
	RoundsRSS   float64 `json:"rounds_peak_rss"`
	RoundsHeap  float64 `json:"rounds_peak_heap"`
	FirstRSS    float64 `json:"first_run_peak_rss"`
	MemoryLimit string  `json:"memory_limit"`
}

// InventoryRig is JetStream, both simulators with their connections, the
// Commerce writer in this process and the publisher in its own.
type InventoryRig struct {
	o InventoryOptions
	benchNATS
	sims    *devstack.Sims
	ids     []string
	cancel  context.CancelFunc
	done    chan error
	child   *PublisherProcess
	round   int
	settled uint64 // outcomes expected so far
}

// StartInventory builds the catalogue and starts everything; Stop ends it.
func StartInventory(ctx context.Context, o InventoryOptions) (*InventoryRig, error) {
	if o.Items <= 0 {
		o.Items = 100_000
	}
	if o.Latency <= 0 {
		o.Latency = 50 * time.Millisecond
	}
	if o.Every <= 0 {
		o.Every = 100
	}
	if o.Publisher == nil {
		return nil, errors.New("bench inventory: no publisher command")
	}
	r := &InventoryRig{o: o}
	if err := r.start(ctx); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

func (r *InventoryRig) start(ctx context.Context) error {
	err := r.benchNATS.start(ctx, "mlc-bench-inventory-", inventory.ServiceSpec().Uses())
	if err != nil {
		return err
	}
	r.sims, err = devstack.StartSims(devstack.SimOptions{Dir: r.dir, NetSuite: netsuitesim.Config{Latency: r.o.Latency},
		Commerce: commercesim.Config{Seed: 1, Stores: []commercesim.Store{{Code: "default", ID: 1, WebsiteID: 1, Currency: "USD"}}}})
	if err != nil {
		return err
	}
	r.ids = make([]string, r.o.Items)
	for i := range r.o.Items {
		id, sku := strconv.Itoa(10_000+i), fmt.Sprintf("BENCH-%06d", i)
		r.ids[i] = id
		r.sims.NetSuite.AddItem(netsuitesim.Item{ID: id, ItemID: sku})
		r.sims.NetSuite.SetPrice(id, "1", "1", decimal.New(int64(1000+i%5000), -2))
		r.sims.NetSuite.SetStock(id, "1", i%100, i%100)
		r.sims.Commerce.AddProduct(sku, sku, decimal.NewFromInt(1))
	}
	master, err := secrets.GenerateKey()
	if err != nil {
		return err
	}
	keys, err := secrets.NewKeyring(master)
	if err != nil {
		return err
	}
	if err := r.sims.SaveConnections(ctx, r.js, keys); err != nil {
		return err
	}
	addr, err := freeport.Addr()
	if err != nil {
		return err
	}
	shared := map[string]string{"MLC_NATS_URL": r.ns.ClientURL(), secrets.EnvMasterKey: base64.StdEncoding.EncodeToString(master)}
	// The Commerce writer shares this process with JetStream and the
	// simulators (which hold the whole catalogue): no soft limit here.
	env := map[string]string{"MLC_HTTP_ADDR": addr, "MLC_LOG_LEVEL": "error", "MLC_SHUTDOWN_TIMEOUT": "10s",
		"MLC_INVENTORY_SCHEDULE": "false", "MLC_INVENTORY_MEMORY_LIMIT": "off"}
	for k, v := range shared {
		env[k] = v
	}
	logOut := r.o.Log
	if logOut == nil {
		logOut = io.Discard
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- inventory.Run(wctx, env, logOut) }()

	cmd := r.o.Publisher
	cmd.Env = append(append(os.Environ(), r.o.Env...), "MLC_NATS_URL="+shared["MLC_NATS_URL"],
		secrets.EnvMasterKey+"="+shared[secrets.EnvMasterKey])
	r.child, err = StartPublisherProcess(cmd)
	return err
}

// outcomes is how many inventory outcomes SYNC holds.
func (r *InventoryRig) outcomes(ctx context.Context) (uint64, error) {
	st, err := r.js.Stream(ctx, event.StreamSync)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter("sync.*."+event.KindInventory))
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

// run has the publisher run once and waits until the writer reported
// every change it published.
func (r *InventoryRig) run(ctx context.Context) (InventoryRound, error) {
	nsBefore := r.sims.NetSuite.Stats().Requests
	t0 := time.Now()
	res, err := r.child.Run()
	if err != nil {
		return InventoryRound{}, err
	}
	round := InventoryRound{Run: time.Since(t0), Pages: res.Pages, Changed: res.Published,
		NetSuiteRequests: r.sims.NetSuite.Stats().Requests - nsBefore}
	r.settled += uint64(res.Published)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		n, err := r.outcomes(ctx)
		if err != nil {
			return round, err
		}
		if n >= r.settled {
			break
		}
		if time.Now().After(deadline) {
			return round, fmt.Errorf("bench inventory: %d of %d changes written after 10 minutes", n, r.settled)
		}
		select {
		case <-ctx.Done():
			return round, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	round.Written = time.Since(t0)
	for _, req := range r.sims.Commerce.Requests() {
		if !req.At.Before(t0) {
			round.CommerceRequests++
		}
	}
	return round, nil
}

// Prime is the first, full run (every SKU published and written); it then
// resets the publisher's peaks so that PublisherStats covers the rounds.
func (r *InventoryRig) Prime(ctx context.Context) (InventoryRound, error) {
	first, err := r.run(ctx)
	if err != nil {
		return first, err
	}
	return first, r.child.Reset()
}

// Round changes one item in Every (a different slice each round) and runs.
func (r *InventoryRig) Round(ctx context.Context) (InventoryRound, error) {
	r.round++
	for i := r.round % r.o.Every; i < len(r.ids); i += r.o.Every {
		r.sims.NetSuite.SetPrice(r.ids[i], "1", "1", decimal.New(int64(100_000+r.round*7+i%13), -2))
	}
	return r.run(ctx)
}

// PublisherStats ends the publisher process and returns its figures.
func (r *InventoryRig) PublisherStats() (PublisherStats, error) { return r.child.Stats() }

// Stop ends everything StartInventory started.
func (r *InventoryRig) Stop() {
	if r.child != nil {
		r.child.Close()
	}
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	if r.sims != nil {
		_ = r.sims.Stop(context.Background())
	}
	r.benchNATS.stop()
}

// benchNATS is a benchmark's own JetStream server, its storage in a
// temporary directory, with part of streams/ applied.
type benchNATS struct {
	dir string
	ns  *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func (b *benchNATS) start(ctx context.Context, prefix string, sel *stream.Selection) error {
	var err error
	if b.dir, err = os.MkdirTemp("", prefix); err != nil {
		return err
	}
	if b.ns, err = devstack.StartNATS(b.dir, -1, false); err != nil {
		return err
	}
	if b.nc, b.js, err = stream.Connect(b.ns.ClientURL(), "", "mlc-bench", zerolog.Nop()); err != nil {
		return err
	}
	_, err = stream.ApplyDeclared(ctx, b.js, sel)
	return err
}

func (b *benchNATS) stop() {
	if b.nc != nil {
		b.nc.Close()
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// InventoryResult is `mlc bench inventory`: the first, full run, the
// timed rounds, and the publisher's memory.
type InventoryResult struct {
	Items     int              `json:"items"`
	Latency   time.Duration    `json:"latency_ns"`
	First     InventoryRound   `json:"first_run"`
	Rounds    []InventoryRound `json:"rounds"`
	Publisher PublisherStats   `json:"publisher"`
}

// RunInventory runs the whole benchmark: start, Prime, rounds, stats.
// progress, when set, hears what is going on.
func RunInventory(ctx context.Context, o InventoryOptions, rounds int, progress func(string)) (InventoryResult, error) {
	say := func(format string, args ...any) {
		if progress != nil {
			progress(fmt.Sprintf(format, args...))
		}
	}
	say("building a %d-item catalogue in both simulators", max(o.Items, 0))
	r, err := StartInventory(ctx, o)
	if err != nil {
		return InventoryResult{}, err
	}
	defer r.Stop()
	res := InventoryResult{Items: r.o.Items, Latency: r.o.Latency}
	say("first run: every SKU published and written to Commerce")
	if res.First, err = r.Prime(ctx); err != nil {
		return res, err
	}
	for i := range max(rounds, 1) {
		say("round %d: %d %% changed", i+1, 100/r.o.Every)
		round, err := r.Round(ctx)
		if err != nil {
			return res, err
		}
		res.Rounds = append(res.Rounds, round)
	}
	res.Publisher, err = r.PublisherStats()
	return res, err
}

// PublisherProcess is a child process running ServePublisher: one command
// a line on its stdin, one "RESULT <json>" line back on its stdout (other
// lines, such as a test binary's, are passed over).
type PublisherProcess struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// PublisherRun is one run's answer.
type PublisherRun struct {
	Published int           `json:"published"`
	Pages     int64         `json:"pages"`
	Duration  time.Duration `json:"duration"`
	Error     string        `json:"error,omitempty"`
}

// StartPublisherProcess starts cmd (its stderr is this process's unless set).
func StartPublisherProcess(cmd *exec.Cmd) (*PublisherProcess, error) {
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench inventory: start the publisher process: %w", err)
	}
	p := &PublisherProcess{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	p.out.Buffer(make([]byte, 1<<20), 1<<20)
	return p, nil
}

func (p *PublisherProcess) call(command string, v any) error {
	if _, err := io.WriteString(p.in, command+"\n"); err != nil {
		return fmt.Errorf("bench inventory: publisher process: %w", err)
	}
	for p.out.Scan() {
		if b, ok := strings.CutPrefix(p.out.Text(), "RESULT "); ok {
			return json.Unmarshal([]byte(b), v)
		}
	}
	return fmt.Errorf("bench inventory: the publisher process ended before answering %q: %v", command, p.out.Err())
}

// Run has the publisher run once over every store and SKU.
func (p *PublisherProcess) Run() (PublisherRun, error) {
	var r PublisherRun
	if err := p.call("run", &r); err != nil {
		return r, err
	}
	if r.Error != "" {
		return r, fmt.Errorf("bench inventory: publisher run: %s", r.Error)
	}
	return r, nil
}

// Reset starts the peaks afresh (and the CPU profile, when asked for).
func (p *PublisherProcess) Reset() error { return p.call("reset", &struct{}{}) }

// Stats ends the process and returns its figures.
func (p *PublisherProcess) Stats() (PublisherStats, error) {
	var s PublisherStats
	err := p.call("stats", &s)
	p.Close()
	return s, err
}

// Close ends the process (closing its stdin ends ServePublisher).
func (p *PublisherProcess) Close() {
	if p.in == nil {
		return
	}
	_ = p.in.Close()
	_ = p.cmd.Wait()
	p.in = nil
}

// ServePublisher is the publisher process: an inventory Publisher built
// as the service builds it (environ's NATS URL, master key and
// MLC_INVENTORY_* settings, the service's soft memory limit) that runs on
// command. Commands, one a line: "run", "reset", "stats" (which ends it).
// MLC_BENCH_CPUPROFILE=file profiles from "reset" on, MLC_BENCH_MEMPROFILE=file
// writes the heap profile at "stats".
func ServePublisher(ctx context.Context, in io.Reader, out io.Writer, environ map[string]string) error {
	cfg, err := service.LoadConfig[inventory.Config](environ)
	if err != nil {
		return err
	}
	limit, restore := inventory.ApplyMemoryLimit(cfg.MemoryLimit)
	defer restore()
	keys, err := secrets.LoadKeyring(func(k string) string { return environ[k] })
	if err != nil {
		return err
	}
	nc, js, err := stream.Connect(cfg.NATSURL, "", "bench-publisher", zerolog.Nop())
	if err != nil {
		return err
	}
	defer nc.Close()
	credKV, err := js.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		return err
	}
	pub, err := inventory.NewPublisher(ctx, js, secrets.NewStore(credKV, keys), inventory.WithPageSize(cfg.PageSize),
		inventory.WithWorkers(cfg.Workers))
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var peakHeap atomic.Uint64
	go func() {
		var ms runtime.MemStats
		for sctx.Err() == nil {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	reply := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "RESULT %s\n", b)
		return err
	}
	var firstRSS float64
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		switch cmd := lines.Text(); cmd {
		case "run":
			var r PublisherRun
			sum, err := pub.Run(ctx, inventory.RunOptions{Origin: event.OriginSchedule})
			switch {
			case err != nil:
				r.Error = err.Error()
			case len(sum.Stores) != 1:
				r.Error = fmt.Sprintf("%d stores ran, want 1", len(sum.Stores))
			default:
				r = PublisherRun{Published: sum.Stores[0].Published, Pages: sum.Pages.Total(), Duration: sum.Duration}
			}
			if err := reply(r); err != nil {
				return err
			}
		case "reset":
			firstRSS = peakRSS()
			runtime.GC()
			peakHeap.Store(0)
			// Writing 5 to clear_refs resets VmHWM to the current RSS.
			_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
			if f := environ["MLC_BENCH_CPUPROFILE"]; f != "" {
				prof, err := os.Create(f)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(prof); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			err = reply(struct{}{})
		case "stats":
			if f := environ["MLC_BENCH_MEMPROFILE"]; f != "" {
				prof, err := os.Create(f)
				if err != nil {
					return err
				}
				err = pprof.Lookup("heap").WriteTo(prof, 0)
				if cerr := prof.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
			}
			return reply(PublisherStats{RoundsRSS: peakRSS(), RoundsHeap: float64(peakHeap.Load()), FirstRSS: firstRSS,
				MemoryLimit: inventory.MemoryLimit(limit).String()})
		default:
			err = fmt.Errorf("bench publisher: unknown command %q", cmd)
		}
		if err != nil {
			return err
		}
	}
	return lines.Err()
}

// peakRSS is this process's peak resident set (VmHWM), 0 where unknown.
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
