package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// maxInFlight bounds the requests the generator has open at once (ingest's
// default MLC_HTTP_MAX_CONNS): a request due while that many are open is
// counted as an error, never delayed, so an overload shows instead of
// slowing the schedule down.
const maxInFlight = 1024

// Result summarises a run. In open loop, latency is measured from when each
// request was due by the schedule to ingest's {"op":"success"}, so time a
// request spent waiting behind others (in the generator, the kernel or
// ingest) counts; in closed loop, from when it was sent.
type Result struct {
	Name  string `json:"name"`
	Loop  string `json:"loop"` // "open" (fixed rate) or "closed" (N always in flight)
	Sync  string `json:"sync"`
	Where string `json:"where"` // processes, in-process, ...
	// Server is what answered: "ingest" or "floor <kind>" (Floors).
	Server string `json:"server"`
	// Rate is the schedule's requests per second (open loop).
	Rate       float64       `json:"rate_per_s,omitempty"`
	Requests   int           `json:"requests"`
	Errors     int           `json:"errors"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	Throughput float64       `json:"throughput_per_s"`
	P50        time.Duration `json:"p50_ns"`
	P90        time.Duration `json:"p90_ns"`
	P99        time.Duration `json:"p99_ns"`
	P999       time.Duration `json:"p999_ns"`
	Max        time.Duration `json:"max_ns"`
	// SendLagP99 is how late the generator itself sent requests (p99 of
	// send time minus due time): part of the latency above, and a sign that
	// the machine, not ingest, was the limit when it is large.
	SendLagP99 time.Duration `json:"send_lag_p99_ns,omitempty"`
	CPU        CPU           `json:"cpu"`
	FirstError string        `json:"first_error,omitempty"`
}

// CPU is the processor time each part used over the measured requests, in
// seconds per 1,000 webhooks (the same number as milliseconds per webhook),
// from /proc/<pid>/stat (utime + stime). A part that shares the bench's
// process is in Bench and has no figure of its own (0).
type CPU struct {
	Ingest float64 `json:"ingest_s_per_1k"`
	NATS   float64 `json:"nats_s_per_1k"`
	// Bench is this process: the load generator, plus ingest or NATS when
	// they run inside it (BenchHolds says which).
	Bench      float64 `json:"bench_s_per_1k"`
	BenchHolds string  `json:"bench_holds"`
}

type cpuSample struct{ bench, ingest, nats time.Duration }

// perK turns the CPU used between two samples into seconds per 1,000 requests.
func (t *IngestTarget) perK(a, b cpuSample, n int) CPU {
	if n == 0 {
		return CPU{}
	}
	k := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(n) }
	c := CPU{Bench: k(b.bench - a.bench), BenchHolds: "load generator"}
	if t.ingestCmd != nil {
		c.Ingest = k(b.ingest - a.ingest)
	} else {
		c.BenchHolds += " + ingest"
	}
	if t.natsCmd != nil {
		c.NATS = k(b.nats - a.nats)
	} else {
		c.BenchHolds += " + nats"
	}
	return c
}

// procCPU is the user and system time a process has used, all its threads
// (live and exited) together. /proc counts in USER_HZ, 100 on Linux.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (time.Duration, error) {
	// The command name is in parentheses and may hold spaces or ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bench: /proc stat without a command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state (field 3) ... utime (14), stime (15).
	if len(f) < 13 {
		return 0, errors.New("bench: /proc stat too short")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: /proc stat utime %q stime %q", f[11], f[12])
	}
	const userHZ = 100
	return time.Duration(u+s) * (time.Second / userHZ), nil
}

// histogram records latencies from 1 µs to 100 s with three significant
// digits (HdrHistogram).
func histogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, 100_000_000, 3) }

// quantile is the latency below which a fraction q (0.99 for p99) of the
// recorded requests fall.
func quantile(h *hdrhistogram.Histogram, q float64) time.Duration {
	if h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.ValueAtQuantile(q*100)) * time.Microsecond
}

func record(h *hdrhistogram.Histogram, d time.Duration) {
	_ = h.RecordValue(max(1, min(d.Microseconds(), h.HighestTrackableValue())))
}

// RunOptions configure one open-loop run.
type RunOptions struct {
	// Rate is requests per second: request i is due at start + i/Rate,
	// whatever happened to the ones before it.
	Rate float64
	// Warmup requests (the first Warmup×Rate) are sent on the same schedule
	// but neither measured nor counted in CPU.
	Warmup time.Duration
	// Timeout per request (default 5 s).
	Timeout time.Duration
}

// OpenLoop sends reqs at a fixed rate and measures each from its due time:
// no coordinated omission (a slow answer never delays the next request, so
// queueing shows in the percentiles).
func (t *IngestTarget) OpenLoop(ctx context.Context, name string, reqs []Request, o RunOptions) Result {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	interval := time.Duration(float64(time.Second) / o.Rate)
	warm := min(len(reqs), int(o.Warmup.Seconds()*o.Rate))
	wires := make([][]byte, len(reqs))
	for i, r := range reqs {
		wires[i] = r.wire(t.client.addr)
	}
	lat, lag := histogram(), histogram()
	var mu sync.Mutex
	var errs int
	var firstErr error
	var lastDone time.Time
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs++
		if firstErr == nil {
			firstErr = err
		}
	}
	var cpu0 cpuSample
	var measStart time.Time
	start := time.Now().Add(5 * time.Millisecond)
	for i, wire := range wires {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		measured := i >= warm
		if i == warm {
			cpu0, measStart = t.cpu(), due
		}
		if inFlight.Load() >= maxInFlight {
			if measured {
				fail(fmt.Errorf("%d requests in flight: not sent", maxInFlight))
			}
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			sent := time.Now()
			rctx, cancel := context.WithDeadline(ctx, due.Add(o.Timeout))
			err := t.client.do(rctx, wire)
			cancel()
			done := time.Now()
			if !measured {
				return
			}
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			record(lat, done.Sub(due))
			record(lag, sent.Sub(due))
			if done.After(lastDone) {
				lastDone = done
			}
		}()
	}
	wg.Wait()
	cpu1 := t.cpu()
	n := len(reqs) - warm
	r := Result{Name: name, Loop: "open", Sync: t.Sync(), Where: t.Where(), Server: t.Server(), Rate: o.Rate, Requests: n, Errors: errs,
		P50: quantile(lat, .50), P90: quantile(lat, .90), P99: quantile(lat, .99), P999: quantile(lat, .999),
		Max: time.Duration(lat.Max()) * time.Microsecond, SendLagP99: quantile(lag, .99)}
	if lat.TotalCount() == 0 {
		r.Max = 0
	}
	if !lastDone.IsZero() {
		r.Elapsed = lastDone.Sub(measStart)
		r.Throughput = float64(lat.TotalCount()) / r.Elapsed.Seconds()
	}
	r.CPU = t.perK(cpu0, cpu1, n)
	if firstErr != nil {
		r.FirstError = firstErr.Error()
	}
	return r
}

// FindMaxOptions configure FindMax.
type FindMaxOptions struct {
	SLO       time.Duration // p99 bound (default 5 ms)
	Start     float64       // first rate (default 500/s)
	Max       float64       // highest rate tried (default 20,000/s)
	Step      time.Duration // measured length of each rate (default 5 s)
	Warmup    time.Duration // unmeasured lead-in of each rate (default 1 s)
	Precision float64       // stop when failing/passing - 1 is below it (default 0.05)
	// Progress is told each step's result.
	Progress func(Result)
}

// Passes reports whether r met the SLO: every request answered
// {"op":"success"}, p99 within slo, and the schedule's rate achieved.
func (r Result) Passes(slo time.Duration) bool {
	return r.Errors == 0 && r.Requests > 0 && r.P99 <= slo && r.Throughput >= 0.95*r.Rate
}

// FindMax looks for the highest fixed rate whose p99 stays within the SLO:
// it doubles the rate until a step fails, then bisects between the last
// passing and the first failing rate. Every step sends fresh webhooks.
// best is the highest passing step (zero when even Start failed).
func (t *IngestTarget) FindMax(ctx context.Context, name string, o FindMaxOptions) (best Result, steps []Result, err error) {
	if o.SLO <= 0 {
		o.SLO = 5 * time.Millisecond
	}
	if o.Start <= 0 {
		o.Start = 500
	}
	if o.Max <= 0 {
		o.Max = 20_000
	}
	if o.Step <= 0 {
		o.Step = 5 * time.Second
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	} else if o.Warmup == 0 {
		o.Warmup = time.Second
	}
	if o.Precision <= 0 {
		o.Precision = 0.05
	}
	var runErr error
	searchMax(o.Start, o.Max, o.Precision, func(rate float64) bool {
		if runErr != nil {
			return false
		}
		reqs, err := t.Requests(int(rate*(o.Step+o.Warmup).Seconds()), nil)
		if err != nil {
			runErr = err
			return false
		}
		r := t.OpenLoop(ctx, fmt.Sprintf("%s %.0f/s", name, rate), reqs, RunOptions{Rate: rate, Warmup: o.Warmup})
		steps = append(steps, r)
		if o.Progress != nil {
			o.Progress(r)
		}
		if runErr = ctx.Err(); runErr != nil {
			return false
		}
		ok := r.Passes(o.SLO)
		if ok && r.Rate > best.Rate {
			best = r
		}
		return ok
	})
	return best, steps, runErr
}

// searchMax finds the highest rate in [start, limit] for which pass holds,
// to within precision: doubling from start until pass fails, then
// bisecting. It returns 0 when start fails.
func searchMax(start, limit, precision float64, pass func(rate float64) bool) float64 {
	lo, hi := 0.0, 0.0
	for rate := start; ; rate *= 2 {
		rate = min(rate, limit)
		if !pass(rate) {
			hi = rate
			break
		}
		lo = rate
		if rate >= limit {
			return lo
		}
	}
	if lo == 0 {
		return 0
	}
	for hi/lo-1 > precision {
		rate := math.Round((lo + hi) / 2)
		if rate <= lo || rate >= hi {
			break
		}
		if pass(rate) {
			lo = rate
		} else {
			hi = rate
		}
	}
	return lo
}

// ClosedLoop sends reqs from concurrency senders, each waiting for its
// answer before sending the next: the most ingest answers with that many
// requests always in flight. Latency counts from each send, so it hides
// queueing; use OpenLoop for what a merchant's webhooks see.
func (t *IngestTarget) ClosedLoop(ctx context.Context, name string, reqs []Request, concurrency int) Result {
	var next atomic.Int64
	hists := make([]*hdrhistogram.Histogram, concurrency)
	errCounts := make([]int, concurrency)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	cpu0 := t.cpu()
	start := time.Now()
	for w := range concurrency {
		hists[w] = histogram()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				wire := reqs[i].wire(t.client.addr)
				s := time.Now()
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := t.client.do(rctx, wire)
				cancel()
				if err != nil {
					errCounts[w]++
					once.Do(func() { firstErr = err })
					continue
				}
				record(hists[w], time.Since(s))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1 := t.cpu()
	all := histogram()
	errs := 0
	for w := range concurrency {
		all.Merge(hists[w])
		errs += errCounts[w]
	}
	r := Result{Name: name, Loop: "closed", Sync: t.Sync(), Where: t.Where(), Server: t.Server(), Requests: len(reqs), Errors: errs, Elapsed: elapsed,
		Throughput: float64(all.TotalCount()) / elapsed.Seconds(),
		P50:        quantile(all, .50), P90: quantile(all, .90), P99: quantile(all, .99), P999: quantile(all, .999),
		CPU: t.perK(cpu0, cpu1, len(reqs))}
	if all.TotalCount() > 0 {
		r.Max = time.Duration(all.Max()) * time.Microsecond
	}
	if firstErr != nil {
		r.FirstError = firstErr.Error()
	}
	return r
}

// wireClient is a lean HTTP/1.1 client for the generator: requests are
// rendered once before a run and written as they are on kept-alive
// connections, so the generator, which shares the machine, spends little
// CPU per request.
type wireClient struct {
	addr string
	idle chan *wireConn
}

type wireConn struct {
	c  net.Conn
	br *bufio.Reader
}

func newWireClient(addr string, maxIdle int) *wireClient {
	return &wireClient{addr: addr, idle: make(chan *wireConn, maxIdle)}
}

var success = []byte(`{"op":"success"}`)

// do sends one rendered request and wants 200 {"op":"success"}.
func (w *wireClient) do(ctx context.Context, req []byte) error {
	var wc *wireConn
	select {
	case wc = <-w.idle:
	default:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", w.addr)
		if err != nil {
			return err
		}
		wc = &wireConn{c: c, br: bufio.NewReaderSize(c, 4096)}
	}
	dl, _ := ctx.Deadline() // none: the zero time, no deadline
	_ = wc.c.SetDeadline(dl)
	keep, err := wc.roundTrip(req)
	if err != nil || !keep {
		wc.c.Close()
		return err
	}
	select {
	case w.idle <- wc:
	default:
		wc.c.Close()
	}
	return nil
}

func (wc *wireConn) roundTrip(req []byte) (keep bool, err error) {
	if _, err := wc.c.Write(req); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(wc.br, nil)
	if err != nil {
		return false, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, success) {
		return !resp.Close, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return !resp.Close, nil
}

func (w *wireClient) close() {
	for {
		select {
		case wc := <-w.idle:
			wc.c.Close()
		default:
			return
		}
	}
}
