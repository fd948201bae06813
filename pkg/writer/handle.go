package writer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/retry"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// ErrNotConnected: no usable NetSuite connection; commands wait in the
// stream until `mlc connect netsuite` stores one.
var ErrNotConnected = errors.New("no NetSuite connection (run mlc connect netsuite)")

// errOrderMissing: an invoice's sales order is not in NetSuite yet.
var errOrderMissing = errors.New("sales order not in NetSuite yet")

// Options tune a Writer. Zero values take the defaults of Config.
type Options struct {
	// Retry is the in-process retry of one delivery (429, 5xx, timeouts,
	// unknown outcomes after reconciliation); past it the message is
	// redelivered by JetStream with the consume loop's backoff.
	Retry retry.Policy
	// RequeueGap is the shortest time between two requeues of an invoice
	// waiting for its sales order, and how long it is held otherwise.
	RequeueGap time.Duration
	// AckWait is the consumer's ack_wait: a running command reports progress
	// a third as often, and a claim older than twice it belongs to a dead
	// worker (a redelivery of the claimed command itself takes it at once).
	AckWait time.Duration
	// MaxDeliver is the consumer's max_deliver: on the last delivery a
	// failure is published as settled.
	MaxDeliver int
	// Owner names this instance in claims (host/uuid).
	Owner string
}

// Writer executes NETSUITE commands: the customer, the safe write of the
// record, mlc_synced and the SYNC outcome. One per process; its Handle is
// safe for concurrent use.
type Writer struct {
	js        jetstream.JetStream
	pub       *stream.Publisher
	synced    *syncedStore
	customers *customerMap
	log       zerolog.Logger
	m         *Metrics
	opts      Options
	now       func() time.Time

	client      atomic.Pointer[netsuite.Client]
	invoiceWait atomic.Int64
	onConfig    func(error) // the account's credentials were refused
}

// NewWriter builds a Writer on the writer's buckets. SetClient gives it the
// NetSuite client before any command is handled.
func NewWriter(js jetstream.JetStream, synced, customers jetstream.KeyValue, m *Metrics, log zerolog.Logger, opts Options) *Writer {
	if opts.RequeueGap <= 0 {
		opts.RequeueGap = 5 * time.Second
	}
	if opts.AckWait <= 0 {
		opts.AckWait = 150 * time.Second
	}
	w := &Writer{
		js: js, pub: stream.NewPublisher(js), log: log, m: m, opts: opts, now: time.Now,
		synced:    &syncedStore{kv: synced, owner: opts.Owner, claimTTL: 2 * opts.AckWait, now: time.Now},
		customers: &customerMap{kv: customers, now: time.Now},
		onConfig:  func(error) {},
	}
	w.invoiceWait.Store(int64(DefaultInvoiceWait))
	return w
}

// SetClient switches to c (nil: not connected).
func (w *Writer) SetClient(c *netsuite.Client) { w.client.Store(c) }

// SetInvoiceWait sets how long an invoice waits for its sales order.
func (w *Writer) SetInvoiceWait(d time.Duration) { w.invoiceWait.Store(int64(d)) }

// OnConfigError sets what happens when NetSuite refuses the credentials
// (the service pauses consumption until the connection changes).
func (w *Writer) OnConfigError(fn func(error)) { w.onConfig = fn }

// result is what executing a command decided.
type result struct {
	status   string // event.StatusOK, StatusUnchanged or StatusVariance
	id       string
	note     string
	requeued bool // an invoice moved behind the backlog: no outcome yet
}

// Handle is the stream.Handler of the NETSUITE consumer.
func (w *Writer) Handle(ctx context.Context, msg jetstream.Msg) error {
	start := w.now()
	md, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("metadata of %s: %w", msg.Subject(), err)
	}
	cmd, env, err := event.DecodeNetSuiteCommand(msg.Data())
	if err != nil {
		return stream.Permanent(fmt.Errorf("NETSUITE message %d on %s is not a command the writer can execute (fix its producer; nothing was written): %w",
			md.Sequence.Stream, msg.Subject(), err))
	}
	stop := w.heartbeat(msg)
	defer stop()
	var calls callCount
	res, err := w.execute(withCallCount(ctx, &calls), msg, md, cmd)
	if err == nil && res.requeued {
		return nil
	}
	return w.settle(ctx, msg, md, cmd, env, res, err, int(calls.n.Load()), w.now().Sub(start))
}

// execute runs one delivery: the mlc_synced shortcut, the claim, the write
// with in-process retries.
func (w *Writer) execute(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, cmd event.NetSuiteCommand) (result, error) {
	c := w.client.Load()
	if c == nil {
		return result{}, stream.RetryAfter(ErrNotConnected, time.Minute)
	}
	hash, seq := cmd.ContentHash(), md.Sequence.Stream
	prev, rev, err := w.synced.get(ctx, cmd.ExternalID)
	if err != nil {
		return result{}, err
	}
	if prev != nil && prev.Hash != "" && cmd.Replay == "" {
		switch {
		case prev.Hash == hash:
			return result{status: event.StatusUnchanged, id: prev.ID}, nil
		case prev.Seq > seq:
			// A later command for the same record was written already; the
			// stream's order wins.
			return result{status: event.StatusUnchanged, id: prev.ID, note: fmt.Sprintf("superseded by command %d", prev.Seq)}, nil
		}
	}
	claimed, crev, err := w.synced.claim(ctx, cmd.ExternalID, cmd.Kind, prev, rev, seq, hash)
	if errors.Is(err, errBusy) {
		return result{}, stream.RetryAfter(fmt.Errorf("%s: %w", describe(cmd), err), w.opts.RequeueGap/2)
	}
	if err != nil {
		return result{}, err
	}
	// Content changed since the last successful write: an update is due
	// (where the record type allows one).
	changed := prev != nil && prev.Hash != "" && prev.Hash != hash
	var id string
	policy := w.opts.Retry
	policy.Retryable = func(err error) bool {
		ok := retryable(err)
		if ok {
			w.m.Retries.WithLabelValues(netsuite.Classify(err).String()).Inc()
		}
		return ok
	}
	err = retry.Do(ctx, policy, func(ctx context.Context, _ int) error {
		var err error
		id, err = w.write(ctx, c, cmd, changed)
		return err
	})
	if err != nil {
		if rerr := w.synced.release(ctx, cmd.ExternalID, claimed, crev); rerr != nil {
			w.log.Warn().Err(rerr).Str("external_id", cmd.ExternalID).Msg("claim not released; it expires after ack_wait")
		}
		if errors.Is(err, errOrderMissing) {
			requeued, werr := w.waitForOrder(ctx, msg, md, cmd, err)
			return result{requeued: requeued}, werr
		}
		return result{}, w.classify(cmd, err)
	}
	status := event.StatusOK
	if cmd.Totals != nil && cmd.Totals.OverTolerance {
		status = event.StatusVariance
	}
	res := result{status: status, id: id}
	// A crash between this and the outcome's publish makes the redelivery
	// report "unchanged" with the same internal id: nothing is written twice.
	if err := w.synced.done(ctx, cmd.ExternalID, claimed, crev, hash, id, seq); err != nil {
		return res, fmt.Errorf("%s written as %s but not recorded: %w", describe(cmd), id, err)
	}
	return res, nil
}

// write dispatches on the command's kind.
func (w *Writer) write(ctx context.Context, c *netsuite.Client, cmd event.NetSuiteCommand, changed bool) (string, error) {
	switch cmd.Kind {
	case event.KindCustomer:
		return w.writeCustomer(ctx, c, cmd, changed || cmd.Replay != "")
	case event.KindSalesOrder:
		return w.writeSalesOrder(ctx, c, cmd, changed)
	case event.KindInvoice:
		return w.writeInvoice(ctx, c, cmd, changed)
	}
	return "", stream.Permanent(fmt.Errorf("%s: unknown command kind %q", describe(cmd), cmd.Kind))
}

// retryable: worth another in-process attempt. Unknown outcomes are: every
// write starts with a lookup by externalId, so the next attempt reconciles.
func retryable(err error) bool {
	if errors.Is(err, stream.ErrPermanent) || errors.Is(err, errOrderMissing) || errors.Is(err, errBadRecord) ||
		errors.Is(err, netsuite.ErrInvalidExternalID) {
		return false
	}
	switch netsuite.Classify(err) {
	case netsuite.ClassRetryable, netsuite.ClassAmbiguous:
		return true
	case netsuite.ClassConfig:
		return false
	}
	if errors.Is(err, netsuite.ErrUnauthorized) {
		return false // the client already renewed the token once
	}
	var ne *netsuite.Error
	return !errors.As(err, &ne) // NetSuite said no; anything else (KV, JetStream) is transient
}

// classify turns a failed write into what the consume loop should do:
// NetSuite's refusals and bad commands go to the DLQ naming the record,
// refused credentials pause the writer, the rest is redelivered.
func (w *Writer) classify(cmd event.NetSuiteCommand, err error) error {
	switch {
	case errors.Is(err, stream.ErrPermanent):
		return stream.Permanent(fmt.Errorf("%s: %w", describe(cmd), err))
	case errors.Is(err, errBadRecord), errors.Is(err, netsuite.ErrInvalidExternalID):
		return stream.Permanent(fmt.Errorf("%s: the command is unusable (fix the mapping, then replay): %w", describe(cmd), err))
	case netsuite.Classify(err) == netsuite.ClassConfig,
		errors.Is(err, netsuite.ErrUnauthorized) && !errors.Is(err, netsuite.ErrConcurrencyLimit):
		// The token endpoint refused us, or a fresh token was refused
		// while the account was not throttling: every command would fail
		// the same way, so the writer pauses instead of filling the DLQ
		// (a paused writer pulls nothing: the redelivery waits for it).
		w.onConfig(err)
		return fmt.Errorf("%s: %w", describe(cmd), err)
	}
	var ne *netsuite.Error
	if errors.As(err, &ne) && netsuite.Classify(err) == netsuite.ClassPermanent {
		return stream.Permanent(fmt.Errorf("%s: NetSuite refused it: %w", describe(cmd), err))
	}
	return fmt.Errorf("%s: %w", describe(cmd), err)
}

// settle publishes the outcome of a settled command and returns what the
// consume loop should do with the message.
func (w *Writer) settle(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, cmd event.NetSuiteCommand, env event.Envelope,
	res result, herr error, calls int, dur time.Duration) error {
	w.m.Duration.WithLabelValues(cmd.Kind).Observe(dur.Seconds())
	lastDelivery := w.opts.MaxDeliver > 0 && int(md.NumDelivered) >= w.opts.MaxDeliver
	if herr != nil && !errors.Is(herr, stream.ErrPermanent) && !lastDelivery {
		return herr // redelivered: not settled yet
	}
	o := event.SyncOutcome{
		Kind: cmd.Kind, Status: res.status, BusinessKey: cmd.Key(), Store: cmd.Store, ExternalID: cmd.ExternalID,
		InternalID: res.id, ContentHash: cmd.ContentHash(), Attempts: int(md.NumDelivered), NetSuiteCalls: calls,
		DurationMS: dur.Milliseconds(), CommandID: env.ID, At: w.now().UTC(), Producer: Name, Error: res.note,
	}
	if herr != nil {
		o.Status, o.InternalID = event.StatusFailed, ""
		o.Error = truncate(herr.Error(), 2000)
		o.ErrorCode, o.ErrorPath, o.ErrorDetail = errorDetails(herr)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := w.pub.Publish(pctx, o, stream.CausedBy(stream.ParentOf(env, msg.Headers()))); err != nil {
		if herr != nil {
			// The DLQ still gets the command; the outcome is what is lost.
			w.log.Error().Err(err).Str("key", o.BusinessKey).Msg("failed outcome not published")
			return herr
		}
		return fmt.Errorf("%s: outcome not published: %w", describe(cmd), err)
	}
	w.m.Outcomes.WithLabelValues(cmd.Kind, o.Status).Inc()
	ev := w.log.Debug()
	if herr != nil {
		ev = w.log.Warn().Err(herr)
	}
	ev.Str("key", o.BusinessKey).Str("external_id", cmd.ExternalID).Str("status", o.Status).Str("internal_id", o.InternalID).
		Int("calls", calls).Int("attempt", o.Attempts).Dur("took", dur).Msg("settled")
	return herr
}

// heartbeat tells JetStream the command is still being worked on, so a
// slow NetSuite does not get it redelivered to another replica meanwhile.
func (w *Writer) heartbeat(msg jetstream.Msg) func() {
	t := time.NewTicker(w.opts.AckWait / 3)
	done := make(chan struct{})
	go func() {
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// describe names the record for a person: "sales order mlc-so-default-1
// (order:default:1)".
func describe(cmd event.NetSuiteCommand) string {
	kind := map[string]string{event.KindSalesOrder: "sales order", event.KindInvoice: "invoice", event.KindCustomer: "customer"}[cmd.Kind]
	if kind == "" {
		kind = cmd.Kind
	}
	return fmt.Sprintf("%s %s (%s)", kind, cmd.ExternalID, cmd.Key())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
