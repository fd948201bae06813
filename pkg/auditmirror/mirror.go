package auditmirror

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/retry"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Back-off of everything that waits for ClickHouse: connecting, migrating,
// a failed insert. Capped low so the mirror notices a recovered server
// within seconds.
const (
	backoffBase = 250 * time.Millisecond
	backoffCap  = 10 * time.Second
	// insertTimeout bounds one INSERT; a server that hangs is retried.
	insertTimeout = 60 * time.Second
	// inProgressEvery keeps a held batch from being redelivered to another
	// replica while ClickHouse is down (ack_wait is 60 s in streams/).
	inProgressEvery = 20 * time.Second
	// janitorEvery is how often expired months are dropped (18.16).
	janitorEvery = time.Hour
)

// Mirror copies every stream into ClickHouse.
type Mirror struct {
	js  jetstream.JetStream
	cfg Config
	m   *Metrics
	log zerolog.Logger

	mu    sync.Mutex
	state error // nil when the last ClickHouse operation succeeded
}

// New returns a mirror; Run starts it.
func New(js jetstream.JetStream, cfg Config, m *Metrics, log zerolog.Logger) *Mirror {
	return &Mirror{js: js, cfg: cfg, m: m, log: log, state: errors.New("starting")}
}

// ErrNotConfigured is the readiness error without MLC_CLICKHOUSE_DSN.
var ErrNotConfigured = errors.New("MLC_CLICKHOUSE_DSN is not set: nothing is mirrored")

// Ready is the readiness check: ClickHouse reachable and the last insert
// (or the migration) succeeded.
func (m *Mirror) Ready(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != nil {
		return fmt.Errorf("clickhouse: %w", m.state)
	}
	return nil
}

func (m *Mirror) setState(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = err
}

// Run mirrors until ctx is done: it connects and migrates (retrying while
// ClickHouse is unreachable), then runs one batch consumer per stream.
func (m *Mirror) Run(ctx context.Context) error {
	if m.cfg.ClickHouseDSN == "" {
		m.setState(ErrNotConfigured)
		m.log.Warn().Msg("MLC_CLICKHOUSE_DSN is not set: audit-mirror mirrors nothing")
		<-ctx.Done()
		return nil
	}
	store, err := m.connect(ctx)
	if err != nil {
		return nil // ctx done while waiting for ClickHouse
	}
	defer store.Close()
	m.setState(nil)
	m.log.Info().Str("clickhouse", store.Dialect().Version.String()).Str("database", store.Database()).
		Bool("ttl", store.Dialect().TTL()).Int("retention_days", m.cfg.RetentionDays).Msg("audit schema ready")

	g, gctx := errgroup.WithContext(ctx)
	for _, name := range event.Streams() {
		for range m.cfg.Workers {
			g.Go(func() error { return m.consume(gctx, store, name) })
		}
	}
	g.Go(func() error { m.watchLag(gctx); return nil })
	if !store.Dialect().TTL() {
		g.Go(func() error { m.janitor(gctx, store); return nil })
	}
	return g.Wait()
}

// connect opens the store and migrates it, retrying until it works or ctx
// ends (then it returns ctx's error).
func (m *Mirror) connect(ctx context.Context) (*audit.Store, error) {
	for attempt := 0; ; attempt++ {
		store, err := audit.Open(ctx, m.cfg.ClickHouseDSN, audit.WithRetention(m.cfg.RetentionDays))
		if err == nil {
			if err = store.Migrate(ctx); err == nil {
				return store, nil
			}
			store.Close()
		}
		m.setState(err)
		d := retry.Backoff(attempt, backoffBase, backoffCap, rand.Float64)
		m.log.Warn().Err(err).Dur("retry_in", d).Msg("clickhouse not ready; retrying")
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

// consume runs the batch consumer of one stream; it returns when ctx ends.
func (m *Mirror) consume(ctx context.Context, store *audit.Store, name string) error {
	h := func(_ context.Context, msgs []jetstream.Msg) error { return m.mirror(ctx, store, name, msgs) }
	for attempt := 0; ; attempt++ {
		err := stream.ConsumeBatch(ctx, m.js, name, event.DurableAuditMirror, h,
			stream.WithBatch(m.cfg.BatchSize, m.cfg.BatchWait), stream.WithLogger(m.log), stream.WithFastAck(),
			stream.WithBackoff(stream.FullJitter(backoffBase, backoffCap)))
		if ctx.Err() != nil {
			return nil
		}
		// The consumer is missing (streams not applied yet): wait for it.
		d := retry.Backoff(attempt, backoffBase, backoffCap, rand.Float64)
		m.log.Warn().Err(err).Str("stream", name).Dur("retry_in", d).Msg("audit consumer unavailable; retrying")
		if sleep(ctx, d) != nil {
			return nil
		}
	}
}

// mirror inserts one batch with one INSERT (split only when its bodies are
// huge). While ClickHouse fails it holds the batch, so nothing is skipped;
// when the service stops first the messages are naked for the next start.
func (m *Mirror) mirror(ctx context.Context, store *audit.Store, name string, msgs []jetstream.Msg) error {
	now := time.Now()
	rows := make([]audit.Row, 0, len(msgs))
	for _, msg := range msgs {
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("metadata of a %s message: %w", name, err)
		}
		r := audit.FromMessage(audit.Meta{Stream: name, Seq: md.Sequence.Stream, Published: md.Timestamp}, msg.Subject(), msg.Headers(), msg.Data(), now)
		if r.Redacted {
			m.m.Redacted.WithLabelValues(name).Inc()
		}
		if r.Status == audit.StatusInvalid {
			m.m.Invalid.WithLabelValues(name).Inc()
		}
		rows = append(rows, r)
	}
	for _, chunk := range chunks(rows, maxInsertBytes) {
		if err := m.insert(ctx, store, name, chunk, msgs); err != nil {
			return err
		}
	}
	return nil
}

// maxInsertBytes bounds one INSERT: a batch of thousands of messages of up
// to a few MiB each (COMMERCE takes 2 MiB, DLQ 8 MiB) is split rather than
// sent as one block of gigabytes.
const maxInsertBytes = 64 << 20

// chunks splits rows into runs of at most maxBytes of bodies (at least one
// row each); usually there is one.
func chunks(rows []audit.Row, maxBytes int) [][]audit.Row {
	var out [][]audit.Row
	start, size := 0, 0
	for i, r := range rows {
		n := len(r.Data)
		if i > start && size+n > maxBytes {
			out = append(out, rows[start:i])
			start, size = i, 0
		}
		size += n
	}
	return append(out, rows[start:])
}

// insert writes rows, holding them while ClickHouse fails: it backs off
// and retries, keeping msgs in progress so they are not redelivered
// meanwhile, and gives up only when the service stops.
func (m *Mirror) insert(ctx context.Context, store *audit.Store, name string, rows []audit.Row, msgs []jetstream.Msg) error {
	lastProgress := time.Now()
	for attempt := 0; ; attempt++ {
		start := time.Now()
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), insertTimeout)
		err := store.Insert(ictx, rows)
		cancel()
		if err == nil {
			m.m.InsertTime.Observe(time.Since(start).Seconds())
			m.m.BatchRows.Observe(float64(len(rows)))
			m.m.Rows.WithLabelValues(name).Add(float64(len(rows)))
			done := time.Now()
			delay := m.m.Delay.WithLabelValues(name)
			for _, r := range rows {
				delay.Observe(done.Sub(r.Published).Seconds())
			}
			if attempt > 0 {
				m.log.Info().Str("stream", name).Int("rows", len(rows)).Int("attempts", attempt+1).Msg("insert succeeded after retries")
			}
			m.setState(nil)
			return nil
		}
		m.setState(err) // unready by the time the failure is counted
		m.m.InsertFailures.Inc()
		d := retry.Backoff(attempt, backoffBase, backoffCap, rand.Float64)
		m.log.Warn().Err(err).Str("stream", name).Int("rows", len(rows)).Dur("retry_in", d).Msg("insert failed; holding the batch")
		if sleep(ctx, d) != nil {
			return fmt.Errorf("shutting down with %d %s rows not inserted: %w", len(rows), name, err)
		}
		if time.Since(lastProgress) >= inProgressEvery {
			for _, msg := range msgs {
				_ = msg.InProgress()
			}
			lastProgress = time.Now()
		}
	}
}

// watchLag measures, per stream, how many messages the mirror has not
// inserted yet and how old the oldest of them is.
func (m *Mirror) watchLag(ctx context.Context) {
	t := time.NewTicker(m.cfg.LagInterval)
	defer t.Stop()
	for {
		for _, name := range event.Streams() {
			m.measureLag(ctx, name)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Mirror) measureLag(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cons, err := m.js.Consumer(ctx, name, event.DurableAuditMirror)
	if err != nil {
		return
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return
	}
	pending := info.NumPending + uint64(info.NumAckPending)
	m.m.LagMessages.WithLabelValues(name).Set(float64(pending))
	if pending == 0 {
		m.m.LagSeconds.WithLabelValues(name).Set(0)
		return
	}
	st, err := m.js.Stream(ctx, name)
	if err != nil {
		return
	}
	if msg, err := st.GetMsg(ctx, info.AckFloor.Stream+1); err == nil {
		m.m.LagSeconds.WithLabelValues(name).Set(time.Since(msg.Time).Seconds())
	}
}

// janitor drops expired months on servers without TTL.
func (m *Mirror) janitor(ctx context.Context, store *audit.Store) {
	for {
		dropped, err := store.DropExpired(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			m.log.Warn().Err(err).Msg("retention: dropping expired partitions failed")
		case len(dropped) > 0:
			m.log.Info().Strs("partitions", dropped).Int("retention_days", m.cfg.RetentionDays).Msg("retention: expired months dropped")
		}
		if sleep(ctx, janitorEvery) != nil {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
