package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/retry"
)

// ErrPermanent marks a handler error that no retry can fix (a record that
// cannot be mapped, a NetSuite validation error): the message goes straight
// to the DLQ. Wrap with Permanent.
var ErrPermanent = errors.New("permanent failure")

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() []error {
	return []error{e.err, ErrPermanent}
}

// Permanent marks err as not retryable. The error text becomes the DLQ
// reason, so it should say what a person has to fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type delayedError struct {
	err   error
	delay time.Duration
	exact bool // RetryIn: the delay, whatever the backoff says
}

func (e delayedError) Error() string { return e.err.Error() }
func (e delayedError) Unwrap() error { return e.err }

// RetryAfter asks for redelivery after at least d (e.g. NetSuite not
// connected yet): the later of d and the default backoff.
func RetryAfter(err error, d time.Duration) error { return delayedError{err: err, delay: d} }

// RetryIn asks for redelivery after d exactly: a planned wait, not a
// failure (an order Commerce has not committed yet, an invoice whose sales
// order is not in NetSuite yet), which the failure backoff must not
// stretch (its full jitter made transform's 250 ms confirmation wait up to
// a second, and its growth thinned a wait's planned lookups).
func RetryIn(err error, d time.Duration) error { return delayedError{err: err, delay: d, exact: true} }

// Handler processes one message. nil acks it; an error naks it with a
// delay, or dead-letters it when Permanent or out of deliveries.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// BatchHandler processes up to a batch of messages; nil acks them all, an
// error naks them all (the audit mirror retries a failed insert as a whole).
type BatchHandler func(ctx context.Context, msgs []jetstream.Msg) error

// Backoff gives the redelivery delay after the given delivery attempt (1-based).
type Backoff func(attempt int) time.Duration

// FullJitter is retry.Backoff (exponential with full jitter) for the
// 1-based delivery attempt: random(0, min(max, base*2^(attempt-1))).
func FullJitter(base, max time.Duration) Backoff {
	return func(attempt int) time.Duration {
		return retry.Backoff(attempt-1, base, max, rand.Float64)
	}
}

type consumeOptions struct {
	concurrency int
	backoff     Backoff
	log         zerolog.Logger
	batchSize   int
	batchWait   time.Duration
	publishTO   time.Duration
	fastAck     bool
}

// ConsumeOption configures Consume and ConsumeBatch.
type ConsumeOption func(*consumeOptions)

// WithConcurrency sets how many messages are handled at once (default 1).
func WithConcurrency(n int) ConsumeOption {
	return func(o *consumeOptions) {
		if n > 0 {
			o.concurrency = n
		}
	}
}

// WithBackoff replaces the default FullJitter(1s, 5m) nak delays.
func WithBackoff(b Backoff) ConsumeOption { return func(o *consumeOptions) { o.backoff = b } }

// WithLogger sets the logger for retries and dead letters.
func WithLogger(l zerolog.Logger) ConsumeOption { return func(o *consumeOptions) { o.log = l } }

// WithBatch sets ConsumeBatch's size and the longest wait to fill a batch.
func WithBatch(size int, wait time.Duration) ConsumeOption {
	return func(o *consumeOptions) { o.batchSize, o.batchWait = size, wait }
}

// WithFastAck makes ConsumeBatch ack a handled batch without waiting for
// each ack's confirmation (only the last is confirmed): a synchronous ack
// per message costs a round trip, which caps a batch consumer at some ten
// thousand messages per second. A lost ack redelivers its message, so use
// it only where handling a message twice is harmless (the audit mirror).
func WithFastAck() ConsumeOption { return func(o *consumeOptions) { o.fastAck = true } }

func buildOptions(opts []ConsumeOption) consumeOptions {
	o := consumeOptions{
		concurrency: 1,
		backoff:     FullJitter(time.Second, 5*time.Minute),
		log:         zerolog.Nop(),
		batchSize:   1000,
		batchWait:   time.Second,
		publishTO:   5 * time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Consume runs h over the durable pull consumer stream/durable until ctx is
// done, then drains: messages already handed to handlers finish (their
// context is not cancelled by ctx) and are acked before Consume returns.
func Consume(ctx context.Context, js jetstream.JetStream, stream, durable string, h Handler, opts ...ConsumeOption) error {
	o := buildOptions(opts)
	cons, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		return fmt.Errorf("consumer %s/%s: %w", stream, durable, err)
	}
	maxDeliver := cons.CachedInfo().Config.MaxDeliver
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * o.concurrency))
	if err != nil {
		return fmt.Errorf("consume %s/%s: %w", stream, durable, err)
	}
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()

	hctx := context.WithoutCancel(ctx)
	sem := make(chan struct{}, o.concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	d := deadLetterer{js: js, stream: stream, durable: durable, log: o.log, timeout: o.publishTO}
	for {
		msg, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return nil
		}
		if err != nil {
			// Missed heartbeats, a consumer being recreated, a leader
			// election: the iterator recovers by itself; do not spin.
			o.log.Warn().Err(err).Str("consumer", durable).Msg("pull failed; retrying")
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.settle(hctx, msg, h(hctx, msg), maxDeliver, o.backoff)
		}()
	}
}

// ConsumeBatch is Consume for handlers that want many messages at once
// (the audit mirror's batch inserts). Batches are handled one at a time.
func ConsumeBatch(ctx context.Context, js jetstream.JetStream, stream, durable string, h BatchHandler, opts ...ConsumeOption) error {
	o := buildOptions(opts)
	cons, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		return fmt.Errorf("consumer %s/%s: %w", stream, durable, err)
	}
	maxDeliver := cons.CachedInfo().Config.MaxDeliver
	d := deadLetterer{js: js, stream: stream, durable: durable, log: o.log, timeout: o.publishTO}
	hctx := context.WithoutCancel(ctx)
	for ctx.Err() == nil {
		batch, err := cons.Fetch(o.batchSize, jetstream.FetchMaxWait(o.batchWait))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			o.log.Warn().Err(err).Str("consumer", durable).Msg("fetch failed; retrying")
			select {
			case <-ctx.Done():
			case <-time.After(o.batchWait):
			}
			continue
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if len(msgs) == 0 {
			continue
		}
		herr := h(hctx, msgs)
		if herr == nil && o.fastAck {
			for _, m := range msgs[:len(msgs)-1] {
				if err := m.Ack(); err != nil {
					o.log.Warn().Err(err).Str("subject", m.Subject()).Msg("ack failed; message will be redelivered")
				}
			}
			msgs = msgs[len(msgs)-1:]
		}
		for _, m := range msgs {
			d.settle(hctx, m, herr, maxDeliver, o.backoff)
		}
	}
	return nil
}

type deadLetterer struct {
	js      jetstream.JetStream
	stream  string
	durable string
	log     zerolog.Logger
	timeout time.Duration
}

// settle acks, naks or dead-letters msg according to the handler's error.
func (d deadLetterer) settle(ctx context.Context, msg jetstream.Msg, herr error, maxDeliver int, backoff Backoff) {
	if herr == nil {
		if err := msg.DoubleAck(ctx); err != nil {
			d.log.Warn().Err(err).Str("subject", msg.Subject()).Msg("ack failed; message will be redelivered")
		}
		return
	}
	attempt := 1
	if md, err := msg.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	log := d.log.With().Str("subject", msg.Subject()).Str("key", msg.Headers().Get(event.HeaderKey)).
		Int("attempt", attempt).Logger()
	if errors.Is(herr, ErrPermanent) || (maxDeliver > 0 && attempt >= maxDeliver) {
		if err := d.deadLetter(ctx, msg, herr, attempt); err != nil {
			// Not in the DLQ: keep the message rather than lose it.
			log.Error().Err(err).AnErr("cause", herr).Msg("dead-letter publish failed; naking")
			_ = msg.NakWithDelay(backoff(attempt))
			return
		}
		log.Warn().Err(herr).Msg("dead-lettered")
		return
	}
	delay := backoff(attempt)
	var de delayedError
	if errors.As(herr, &de) && (de.exact || de.delay > delay) {
		delay = de.delay
	}
	log.Info().Err(herr).Dur("retry_in", delay).Msg("retrying")
	if err := msg.NakWithDelay(delay); err != nil {
		log.Warn().Err(err).Msg("nak failed; ack wait will redeliver")
	}
}

// deadLetter copies msg to dlq.<subject> with the reason and attempt, then
// terminates it. The DLQ message id makes a repeat (crash between publish
// and term) harmless.
func (d deadLetterer) deadLetter(ctx context.Context, msg jetstream.Msg, reason error, attempt int) error {
	md, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	out := event.DeadLetter{
		Reason: reason.Error(), Attempts: attempt, Subject: msg.Subject(), Stream: d.stream, Seq: md.Sequence.Stream,
		Consumer: d.durable, At: time.Now(), Header: msg.Headers(), Data: msg.Data(),
	}.Msg()
	pctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if _, err := d.js.PublishMsg(pctx, out); err != nil {
		return fmt.Errorf("publish %s: %w", out.Subject, err)
	}
	if err := msg.TermWithReason(truncate(reason.Error(), 200)); err != nil {
		return fmt.Errorf("term: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
