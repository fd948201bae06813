package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/audit/audittest"
	"github.com/ml-connector/ml-connector/pkg/auditmirror"
	"github.com/ml-connector/ml-connector/pkg/chserver"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// AuditOptions are what every audit benchmark needs.
type AuditOptions struct {
	// ClickHouse is the server's native-protocol host:port. Each benchmark
	// works in a database of its own, dropped at the end.
	ClickHouse string
	// MirrorEnv is added to audit-mirror's environment (MLC_AUDIT_WORKERS,
	// MLC_AUDIT_BATCH_SIZE, ...).
	MirrorEnv map[string]string
	// Progress, when set, hears what is going on.
	Progress func(string)
}

func (o AuditOptions) say(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, args...))
	}
}

// Realistic flow payloads: order webhooks from the Commerce simulator
// (2-4 KB each), used in turn.
const auditBodies = 50

// FlowMessages are orders' messages as the services publish them, four an
// order (audittest.Order): orders first..first+orders-1, built by pub.
func FlowMessages(pub *stream.Publisher, first, orders int, bodies [][]byte) ([]*nats.Msg, error) {
	out := make([]*nats.Msg, 0, 4*orders)
	for i := range orders {
		msgs, err := audittest.Order(pub, "default", first+i, bodies[i%len(bodies)])
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// AuditRows are orders' rows as the mirror builds them from FlowMessages,
// with per-stream sequences from 1 and JetStream times a millisecond apart
// an hour ago.
func AuditRows(pub *stream.Publisher, orders int, bodies [][]byte) ([]audit.Row, error) {
	msgs, err := FlowMessages(pub, 1, orders, bodies)
	if err != nil {
		return nil, err
	}
	seqs := map[string]uint64{}
	t0 := time.Now().Add(-time.Hour)
	now := time.Now()
	rows := make([]audit.Row, 0, len(msgs))
	for i, m := range msgs {
		name := streamOf(m.Subject)
		seqs[name]++
		rows = append(rows, audit.FromMessage(audit.Meta{Stream: name, Seq: seqs[name], Published: t0.Add(time.Duration(i) * time.Millisecond)},
			m.Subject, m.Header, m.Data, now))
	}
	return rows, nil
}

// streamOf is the stream a flow message's subject belongs to.
func streamOf(subject string) string {
	switch {
	case strings.HasPrefix(subject, "commerce."):
		return event.StreamCommerce
	case strings.HasPrefix(subject, "netsuite."):
		return event.StreamNetSuite
	case strings.HasPrefix(subject, "dlq."):
		return event.StreamDLQ
	case strings.HasPrefix(subject, "inventory."):
		return event.StreamInventory
	}
	return event.StreamSync
}

// mirrorRig is a JetStream server of its own, an audit database of its
// own, and audit-mirror running in this process.
type mirrorRig struct {
	o AuditOptions
	benchNATS
	store  *audit.Store // the rig's database
	dsn    string
	addr   string // the mirror's HTTP address
	cancel context.CancelFunc
	done   chan error
}

func startMirrorRig(ctx context.Context, o AuditOptions) (*mirrorRig, error) {
	r := &mirrorRig{o: o}
	if err := r.start(ctx); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

func (r *mirrorRig) start(ctx context.Context) error {
	err := r.benchNATS.start(ctx, "mlc-bench-audit-", auditmirror.ServiceSpec().Uses())
	if err != nil {
		return err
	}
	r.store, r.dsn, err = openBenchDatabase(ctx, r.o.ClickHouse)
	return err
}

// openBenchDatabase opens a fresh, migrated audit database on addr.
func openBenchDatabase(ctx context.Context, addr string) (*audit.Store, string, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	dsn := "clickhouse://" + addr + "/mlc_bench_" + hex.EncodeToString(b)
	s, err := audit.Open(ctx, dsn)
	if err != nil {
		return nil, "", err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, "", err
	}
	return s, dsn, nil
}

// dropBenchDatabase drops s's database and closes it.
func dropBenchDatabase(s *audit.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = s.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+s.Database())
	_ = s.Close()
}

// startMirror runs audit-mirror until stop, and waits until it is ready
// (its schema migrated, its consumers about to fetch).
func (r *mirrorRig) startMirror(ctx context.Context) error {
	addr, err := freeport.Addr()
	if err != nil {
		return err
	}
	r.addr = addr
	env := map[string]string{"MLC_NATS_URL": r.ns.ClientURL(), "MLC_CLICKHOUSE_DSN": r.dsn, "MLC_HTTP_ADDR": addr,
		"MLC_LOG_LEVEL": "error", "MLC_SHUTDOWN_TIMEOUT": "10s"}
	for k, v := range r.o.MirrorEnv {
		env[k] = v
	}
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- auditmirror.Run(mctx, env, io.Discard) }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-r.done:
			r.cancel = nil
			return fmt.Errorf("audit-mirror stopped during start: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("audit-mirror not ready after 2 minutes")
		}
	}
}

// metric sums a series of the mirror's /metrics over its labels.
func (r *mirrorRig) metric(name string) float64 {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + r.addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if line == name || strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// publishAll publishes msgs asynchronously (a window of acks in flight)
// and returns once JetStream acknowledged every one.
func publishAll(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) error {
	var futures []jetstream.PubAckFuture
	wait := func() error {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futures = futures[:0]
		return nil
	}
	for _, m := range msgs {
		f, err := js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute))
		if err != nil {
			return fmt.Errorf("publish %s: %w", m.Subject, err)
		}
		if futures = append(futures, f); len(futures) == 2000 {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	return wait()
}

// sightings records when each message first showed in a query of the
// audit table. The mirror stamps every row of a batch with one
// mirrored_ms, so a poll asks for the batches (stream, mirrored_ms, rows)
// and reads the sequences of the new ones only: exact per message
// whatever order batches are inserted in (MLC_AUDIT_WORKERS > 1).
type sightings struct {
	s       *audit.Store
	batches map[batchKey]uint64 // rows seen per batch
	seen    map[string]map[uint64]time.Time
}

type batchKey struct {
	stream string
	ms     int64
}

func newSightings(s *audit.Store) *sightings {
	return &sightings{s: s, batches: map[batchKey]uint64{}, seen: map[string]map[uint64]time.Time{}}
}

// poll records the messages that became visible since the last poll, at
// the time the batch list came back (an upper bound of their visibility).
func (v *sightings) poll(ctx context.Context) error {
	table := v.s.Database() + "." + audit.EventsTable
	rows, err := v.s.Conn().Query(ctx, "SELECT stream, mirrored_ms, count() FROM "+table+" GROUP BY stream, mirrored_ms")
	if err != nil {
		return err
	}
	at := time.Now()
	var fresh []batchKey
	for rows.Next() {
		var k batchKey
		var n uint64
		if err := rows.Scan(&k.stream, &k.ms, &n); err != nil {
			rows.Close()
			return err
		}
		if n > v.batches[k] {
			v.batches[k] = n
			fresh = append(fresh, k)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, k := range fresh {
		seqs, err := v.s.Conn().Query(ctx, "SELECT seq FROM "+table+" WHERE stream = ? AND mirrored_ms = ?", k.stream, k.ms)
		if err != nil {
			return err
		}
		if v.seen[k.stream] == nil {
			v.seen[k.stream] = map[uint64]time.Time{}
		}
		for seqs.Next() {
			var seq uint64
			if err := seqs.Scan(&seq); err != nil {
				seqs.Close()
				return err
			}
			if _, ok := v.seen[k.stream][seq]; !ok {
				v.seen[k.stream][seq] = at
			}
		}
		seqs.Close()
		if err := seqs.Err(); err != nil {
			return err
		}
	}
	return nil
}

// complete waits until the database holds every message once (distinct
// sequences per stream, up to the last).
func (r *mirrorRig) complete(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		behind := ""
		for _, name := range event.Streams() {
			st, err := r.js.Stream(ctx, name)
			if err != nil {
				return err
			}
			info, err := st.Info(ctx)
			if err != nil {
				return err
			}
			n, last, err := r.store.StreamCount(ctx, name)
			if err != nil {
				return err
			}
			if n != info.State.Msgs || last != info.State.LastSeq {
				behind = fmt.Sprintf("%s: %d of %d messages", name, n, info.State.Msgs)
				break
			}
		}
		if behind == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench audit: not all mirrored after %v: %s", within, behind)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *mirrorRig) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	if r.store != nil {
		dropBenchDatabase(r.store)
	}
	r.benchNATS.stop()
}

// MirrorRateResult is the sustained mirror rate over a backlog.
type MirrorRateResult struct {
	Messages int `json:"messages"`
	// Elapsed is from the first rows in ClickHouse to the last; Startup
	// from the mirror's start (connect, migrate) to the first rows.
	Elapsed    time.Duration `json:"elapsed_ns"`
	Startup    time.Duration `json:"startup_ns"`
	RowsPerSec float64       `json:"rows_per_sec"`
	MBPerSec   float64       `json:"payload_mb_per_sec"` // message bodies
	Inserts    int           `json:"inserts"`
	AvgBatch   float64       `json:"avg_batch_rows"`
	InsertSecs float64       `json:"insert_seconds"` // time inside INSERTs
}

// MirrorRate publishes a backlog of about messages flow messages, then
// starts the mirror and times it until every one is in ClickHouse.
func MirrorRate(ctx context.Context, o AuditOptions, messages int) (MirrorRateResult, error) {
	bodies, err := audittest.OrderBodies(ctx, auditBodies)
	if err != nil {
		return MirrorRateResult{}, err
	}
	r, err := startMirrorRig(ctx, o)
	if err != nil {
		return MirrorRateResult{}, err
	}
	defer r.stop()
	msgs, err := FlowMessages(stream.NewPublisher(r.js), 1, max(1, messages/4), bodies)
	if err != nil {
		return MirrorRateResult{}, err
	}
	res := MirrorRateResult{Messages: len(msgs)}
	var payload int
	for _, m := range msgs {
		payload += len(m.Data)
	}
	o.say("publishing a backlog of %d messages (%.0f MB)", len(msgs), float64(payload)/1e6)
	if err := publishAll(ctx, r.js, msgs); err != nil {
		return res, err
	}
	o.say("mirroring the backlog")
	start := time.Now()
	if err := r.startMirror(ctx); err != nil {
		return res, err
	}
	// The first rows: the clock starts after connect and migrate.
	var first time.Time
	var firstRows float64
	for first.IsZero() {
		if n := r.metric("mlc_audit_rows_total"); n > 0 {
			first, firstRows = time.Now(), n
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := r.complete(ctx, 30*time.Minute); err != nil {
		return res, err
	}
	done := time.Now()
	res.Startup, res.Elapsed = first.Sub(start), done.Sub(first)
	res.RowsPerSec = (float64(len(msgs)) - firstRows) / res.Elapsed.Seconds()
	res.MBPerSec = res.RowsPerSec * float64(payload) / float64(len(msgs)) / 1e6
	res.Inserts = int(r.metric("mlc_audit_insert_seconds_count"))
	res.InsertSecs = r.metric("mlc_audit_insert_seconds_sum")
	if res.Inserts > 0 {
		res.AvgBatch = r.metric("mlc_audit_batch_rows_sum") / float64(res.Inserts)
	}
	return res, nil
}

// MirrorLagResult is the mirror's lag at a fixed offered rate.
type MirrorLagResult struct {
	Offered  float64       `json:"offered_per_sec"`
	Achieved float64       `json:"achieved_per_sec"` // acknowledged by JetStream
	Messages int           `json:"messages"`         // measured (after the warm-up)
	Warmup   time.Duration `json:"warmup_ns"`
	Duration time.Duration `json:"duration_ns"`
	// SendLagP99 is how late the generator sent (p99): near zero when it
	// kept the offered rate.
	SendLagP99 time.Duration `json:"send_lag_p99_ns"`
	// Lag is from each message's due time (open loop) until ClickHouse
	// answers queries with it, seen by polling every Poll.
	P50  time.Duration `json:"lag_p50_ns"`
	P99  time.Duration `json:"lag_p99_ns"`
	P999 time.Duration `json:"lag_p999_ns"`
	Max  time.Duration `json:"lag_max_ns"`
	Poll time.Duration `json:"poll_ns"`
}

// MirrorLag runs the mirror and publishes flow messages open loop at rate
// per second for warmup+duration (message i is due at start + i/rate,
// whatever happened before it), asynchronously with acks in flight; then
// measures each message's lag from its due time until it is queryable in
// ClickHouse.
func MirrorLag(ctx context.Context, o AuditOptions, rate float64, warmup, duration time.Duration) (MirrorLagResult, error) {
	res := MirrorLagResult{Offered: rate, Warmup: warmup, Duration: duration, Poll: 50 * time.Millisecond}
	if rate <= 0 || duration <= 0 || warmup < 0 {
		return res, errors.New("bench audit: rate and duration must be positive, warm-up not negative")
	}
	bodies, err := audittest.OrderBodies(ctx, auditBodies)
	if err != nil {
		return res, err
	}
	r, err := startMirrorRig(ctx, o)
	if err != nil {
		return res, err
	}
	defer r.stop()
	n := int(rate * (warmup + duration).Seconds())
	o.say("building %d messages", n)
	msgs, err := FlowMessages(stream.NewPublisher(r.js), 1, max(1, n/4), bodies)
	if err != nil {
		return res, err
	}
	if err := r.startMirror(ctx); err != nil {
		return res, err
	}

	// Polls ClickHouse for what is visible, until the run is over.
	seen := newSightings(r.store)
	pctx, stopPoll := context.WithCancel(ctx)
	polled := make(chan error, 1)
	go func() {
		t := time.NewTicker(res.Poll)
		defer t.Stop()
		for {
			if err := seen.poll(pctx); err != nil && pctx.Err() == nil {
				polled <- err
				return
			}
			select {
			case <-pctx.Done():
				polled <- nil
				return
			case <-t.C:
			}
		}
	}()

	o.say("offering %.0f messages/s for %v (+%v warm-up)", rate, duration, warmup)
	type sent struct {
		due, at time.Time
		f       jetstream.PubAckFuture
	}
	out := make([]sent, len(msgs))
	start := time.Now().Add(10 * time.Millisecond)
	for i, m := range msgs {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if d := time.Until(due); d > time.Millisecond {
			time.Sleep(d)
		}
		f, err := r.js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute))
		if err != nil {
			stopPoll()
			<-polled
			return res, fmt.Errorf("publish %s: %w", m.Subject, err)
		}
		out[i] = sent{due: due, at: time.Now(), f: f}
	}
	type acked struct {
		stream string
		seq    uint64
	}
	acks := make([]acked, len(out))
	var lastAck time.Time
	for i, s := range out {
		select {
		case a := <-s.f.Ok():
			acks[i] = acked{a.Stream, a.Sequence}
		case err := <-s.f.Err():
			stopPoll()
			<-polled
			return res, fmt.Errorf("publish %s: %w", s.f.Msg().Subject, err)
		}
		lastAck = time.Now()
	}
	res.Achieved = float64(len(out)) / lastAck.Sub(start).Seconds()
	o.say("waiting for the mirror to catch up")
	err = r.complete(ctx, 10*time.Minute)
	time.Sleep(2 * res.Poll) // a last sample after the last insert
	stopPoll()
	if perr := <-polled; err == nil {
		err = perr
	}
	if err != nil {
		return res, err
	}

	var lags, sendLags []time.Duration
	warm := start.Add(warmup)
	for i, s := range out {
		if s.due.Before(warm) {
			continue
		}
		a := acks[i]
		at, ok := seen.seen[a.stream][a.seq]
		if !ok {
			return res, fmt.Errorf("bench audit: %s %d never seen in ClickHouse", a.stream, a.seq)
		}
		lags = append(lags, at.Sub(s.due))
		sendLags = append(sendLags, s.at.Sub(s.due))
	}
	res.Messages = len(lags)
	if len(lags) == 0 {
		return res, errors.New("bench audit: no message after the warm-up")
	}
	slices.Sort(lags)
	slices.Sort(sendLags)
	res.P50, res.P99, res.P999, res.Max = nearestRank(lags, .5), nearestRank(lags, .99), nearestRank(lags, .999), lags[len(lags)-1]
	res.SendLagP99 = nearestRank(sendLags, .99)
	return res, nil
}

// nearestRank is quantile q of sorted durations.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// TrailResult is `mlc audit trail` latency for one order among Rows rows.
type TrailResult struct {
	Rows    uint64        `json:"rows"`
	Parts   uint64        `json:"active_parts"`
	Fill    time.Duration `json:"fill_ns"`
	Queries int           `json:"queries"`
	// By business key (order:default:000001234) and by bare increment id
	// (000001234, looked up in the key index first).
	KeyP50 time.Duration `json:"key_p50_ns"`
	KeyP99 time.Duration `json:"key_p99_ns"`
	KeyMax time.Duration `json:"key_max_ns"`
	RefP50 time.Duration `json:"ref_p50_ns"`
	RefP99 time.Duration `json:"ref_p99_ns"`
	RefMax time.Duration `json:"ref_max_ns"`
}

// trailSeed is the seed of the trail table: 1250 orders, 5000 rows,
// inserted as the mirror inserts them; the rest are copies of it made by
// ClickHouse with new order numbers and sequences.
const (
	trailSeedOrders = 1250
	trailSeedRows   = 4 * trailSeedOrders
	trailCopiesPer  = 20 // copies per INSERT ... SELECT: 100,000 rows, about 110 MB a block
)

// TrailLatency fills a database with about rows flow rows (four per
// order), waits for ClickHouse's background merges to settle, and times
// queries Store.Trail calls for random orders, by key and by increment id.
func TrailLatency(ctx context.Context, o AuditOptions, rows, queries int) (TrailResult, error) {
	var res TrailResult
	if rows < trailSeedRows || queries < 1 {
		return res, fmt.Errorf("bench audit: trail rows must be at least %d, queries positive", trailSeedRows)
	}
	bodies, err := audittest.OrderBodies(ctx, auditBodies)
	if err != nil {
		return res, err
	}
	s, _, err := openBenchDatabase(ctx, o.ClickHouse)
	if err != nil {
		return res, err
	}
	defer dropBenchDatabase(s)
	// JetStream only to build the seed's messages with.
	var js benchNATS
	defer js.stop()
	if err := js.start(ctx, "mlc-bench-trail-", auditmirror.ServiceSpec().Uses()); err != nil {
		return res, err
	}
	seed, err := AuditRows(stream.NewPublisher(js.js), trailSeedOrders, bodies)
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := s.Insert(ctx, seed); err != nil {
		return res, err
	}
	// Copy c of the seed is orders c*1250+1.. and sequences c*5000+1..:
	// every key and every (stream, seq) stays distinct.
	exprs := make([]string, len(audit.Columns))
	for i, c := range audit.Columns {
		switch c {
		case "seq":
			exprs[i] = fmt.Sprintf("seq + ((arrayJoin(range(%d)) + {first}) AS copy) * %d", trailCopiesPer, trailSeedRows)
		case "key":
			// order:default:000000042 -> the same with 42 + copy*1250.
			exprs[i] = fmt.Sprintf("concat('order:default:', substring(toString(1000000000 + toUInt64(substring(key, 15)) + copy * %d), 2))", trailSeedOrders)
		default:
			exprs[i] = c
		}
	}
	table := s.Database() + "." + audit.EventsTable
	q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s WHERE seq <= %d AND startsWith(key, 'order:default:')",
		table, strings.Join(audit.Columns, ", "), strings.Join(exprs, ", "), table, trailSeedRows)
	per := trailSeedRows * trailCopiesPer
	statements := (rows - trailSeedRows + per - 1) / per
	for i := range statements {
		if err := s.Conn().Exec(ctx, strings.Replace(q, "{first}", strconv.Itoa(1+i*trailCopiesPer), 1)); err != nil {
			return res, fmt.Errorf("fill %s: %w", table, err)
		}
		if (i+1)%10 == 0 || i+1 == statements {
			o.say("%d of %d rows", trailSeedRows+(i+1)*per, trailSeedRows+statements*per)
		}
	}
	orders := (1 + statements*trailCopiesPer) * trailSeedOrders
	res.Fill = time.Since(start)
	o.say("waiting for ClickHouse's background merges to settle (at most 3 minutes)")
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var merging uint64
		if err := s.Conn().QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = ?", s.Database()).Scan(&merging); err != nil {
			return res, err
		}
		if merging == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = ? AND active",
		s.Database(), audit.EventsTable).Scan(&res.Parts); err != nil {
		return res, err
	}
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM "+table).Scan(&res.Rows); err != nil {
		return res, err
	}
	o.say("%d queries by key and by increment id among %d rows", queries, res.Rows)
	var byKey, byRef []time.Duration
	for i := range queries {
		n := 1 + (i*7919+13)%orders
		for _, ref := range []string{fmt.Sprintf("order:default:%09d", n), fmt.Sprintf("%09d", n)} {
			t0 := time.Now()
			got, err := s.Trail(ctx, ref)
			d := time.Since(t0)
			if err != nil {
				return res, err
			}
			if len(got) != 4 {
				return res, fmt.Errorf("bench audit: trail %s: %d rows, want 4", ref, len(got))
			}
			if strings.Contains(ref, ":") {
				byKey = append(byKey, d)
			} else {
				byRef = append(byRef, d)
			}
		}
	}
	res.Queries = queries
	slices.Sort(byKey)
	slices.Sort(byRef)
	res.KeyP50, res.KeyP99, res.KeyMax = nearestRank(byKey, .5), nearestRank(byKey, .99), byKey[len(byKey)-1]
	res.RefP50, res.RefP99, res.RefMax = nearestRank(byRef, .5), nearestRank(byRef, .99), byRef[len(byRef)-1]
	return res, nil
}

// StartAuditClickHouse runs this machine's clickhouse-server with its data
// in a fresh temporary directory, for the benchmark; stop removes it.
func StartAuditClickHouse() (addr string, stop func(), err error) {
	bin := chserver.Find()
	if bin == "" {
		return "", nil, errors.New("no clickhouse-server on this machine (apt-get install clickhouse-server, or give --clickhouse host:port)")
	}
	dir, err := os.MkdirTemp("", "mlc-bench-clickhouse-")
	if err != nil {
		return "", nil, err
	}
	ch, err := chserver.Start(bin, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	var once sync.Once
	return ch.Addr, func() { once.Do(func() { ch.Stop(); _ = os.RemoveAll(dir) }) }, nil
}
