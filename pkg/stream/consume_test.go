package stream_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// setup creates a work stream with a short ack wait, a DLQ stream and returns js.
func setup(t *testing.T, maxDeliver int) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WORK", Subjects: []string{"work.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "DLQ", Subjects: []string{"dlq.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateConsumer(ctx, "WORK", jetstream.ConsumerConfig{
		Durable: "w", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second, MaxDeliver: maxDeliver,
	}); err != nil {
		t.Fatal(err)
	}
	return js
}

func publish(t *testing.T, js jetstream.JetStream, subject, data string) {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte(data)
	m.Header.Set(event.HeaderKey, "order:default:"+data)
	m.Header.Set(event.HeaderOrigin, event.OriginWebhook)
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func noDelay(int) time.Duration { return 10 * time.Millisecond }

// run starts Consume and returns a stop function that cancels and waits.
func run(t *testing.T, js jetstream.JetStream, h stream.Handler, opts ...stream.ConsumeOption) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- stream.Consume(ctx, js, "WORK", "w", h, opts...) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Consume: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Consume did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pending(t *testing.T, js jetstream.JetStream) (numPending uint64, ackPending int) {
	c, err := js.Consumer(context.Background(), "WORK", "w")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending, info.NumAckPending
}

func dlqCount(t *testing.T, js jetstream.JetStream) uint64 {
	s, err := js.Stream(context.Background(), "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestConsumeAcksHandledMessages(t *testing.T) {
	js := setup(t, 5)
	for i := range 20 {
		publish(t, js, "work.a", fmt.Sprint(i))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	run(t, js, func(_ context.Context, m jetstream.Msg) error {
		mu.Lock()
		seen[string(m.Data())]++
		mu.Unlock()
		return nil
	}, stream.WithConcurrency(4))
	waitFor(t, "all acked", func() bool { p, a := pending(t, js); return p == 0 && a == 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 20 {
		t.Fatalf("handled %d distinct messages, want 20", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("message %s handled %d times", k, n)
		}
	}
}

func TestRedeliveryAfterHandlerCrash(t *testing.T) {
	js := setup(t, 5)
	publish(t, js, "work.a", "1")
	// A "crashed" worker: takes the message and never acks it.
	c, err := js.Consumer(context.Background(), "WORK", "w")
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for range b.Messages() {
	}
	var deliveries atomic.Uint64
	run(t, js, func(_ context.Context, m jetstream.Msg) error {
		md, _ := m.Metadata()
		deliveries.Store(md.NumDelivered)
		return nil
	})
	waitFor(t, "redelivery after ack wait", func() bool { return deliveries.Load() > 0 })
	if got := deliveries.Load(); got != 2 {
		t.Fatalf("handled on delivery %d, want 2", got)
	}
	waitFor(t, "ack", func() bool { _, a := pending(t, js); return a == 0 })
}

func TestRetryableErrorIsRetriedThenSucceeds(t *testing.T) {
	js := setup(t, 5)
	publish(t, js, "work.a", "1")
	var calls atomic.Int32
	run(t, js, func(context.Context, jetstream.Msg) error {
		if calls.Add(1) < 3 {
			return errors.New("netsuite 429")
		}
		return nil
	}, stream.WithBackoff(noDelay))
	waitFor(t, "third attempt", func() bool { return calls.Load() >= 3 })
	waitFor(t, "ack", func() bool { p, a := pending(t, js); return p == 0 && a == 0 })
	if n := dlqCount(t, js); n != 0 {
		t.Fatalf("DLQ has %d messages, want 0", n)
	}
}

// A planned wait (RetryIn) is redelivered after its own delay even when
// the failure backoff is far longer; RetryAfter takes the longer of the two.
func TestRetryInIsNotStretchedByTheBackoff(t *testing.T) {
	js := setup(t, 5)
	publish(t, js, "work.a", "in")
	publish(t, js, "work.a", "after")
	var mu sync.Mutex
	calls := map[string]int{}
	run(t, js, func(_ context.Context, m jetstream.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		body := string(m.Data())
		calls[body]++
		if calls[body] > 1 {
			return nil
		}
		if body == "in" {
			return stream.RetryIn(errors.New("not committed yet"), 50*time.Millisecond)
		}
		return stream.RetryAfter(errors.New("not connected"), 50*time.Millisecond)
	}, stream.WithBackoff(func(int) time.Duration { return time.Hour }))
	waitFor(t, "RetryIn redelivered", func() bool { mu.Lock(); defer mu.Unlock(); return calls["in"] == 2 })
	mu.Lock()
	defer mu.Unlock()
	if calls["after"] != 1 {
		t.Errorf("RetryAfter redelivered within the hour of backoff: %d calls", calls["after"])
	}
}

func TestPermanentErrorGoesToDLQWithReason(t *testing.T) {
	js := setup(t, 5)
	publish(t, js, "work.a", "42")
	var calls atomic.Int32
	run(t, js, func(context.Context, jetstream.Msg) error {
		calls.Add(1)
		return stream.Permanent(errors.New("SKU ABC-1 has no NetSuite item"))
	}, stream.WithBackoff(noDelay))
	waitFor(t, "dead letter", func() bool { return dlqCount(t, js) == 1 })
	if calls.Load() != 1 {
		t.Fatalf("permanent error retried: %d calls", calls.Load())
	}
	m, err := js.Stream(context.Background(), "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.GetLastMsgForSubject(context.Background(), "dlq.work.a")
	if err != nil {
		t.Fatal(err)
	}
	h := raw.Header
	checks := map[string]string{
		event.HeaderDLQReason:   "SKU ABC-1 has no NetSuite item",
		event.HeaderDLQAttempts: "1",
		event.HeaderDLQSubject:  "work.a",
		event.HeaderDLQStream:   "WORK",
		event.HeaderOrigin:      event.OriginWebhook,
		event.HeaderKey:         "order:default:42",
	}
	for k, want := range checks {
		if got := h.Get(k); got != want {
			t.Errorf("DLQ header %s = %q, want %q", k, got, want)
		}
	}
	if string(raw.Data) != "42" {
		t.Errorf("DLQ data = %q", raw.Data)
	}
	waitFor(t, "terminated", func() bool { p, a := pending(t, js); return p == 0 && a == 0 })
}

func TestMaxDeliveriesGoToDLQ(t *testing.T) {
	js := setup(t, 3)
	publish(t, js, "work.a", "7")
	var calls atomic.Int32
	run(t, js, func(context.Context, jetstream.Msg) error {
		calls.Add(1)
		return errors.New("netsuite 503")
	}, stream.WithBackoff(noDelay))
	waitFor(t, "dead letter", func() bool { return dlqCount(t, js) == 1 })
	if got := calls.Load(); got != 3 {
		t.Fatalf("handler called %d times, want 3 (max_deliver)", got)
	}
}

func TestShutdownDrainsInFlight(t *testing.T) {
	js := setup(t, 5)
	publish(t, js, "work.a", "1")
	started := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	stop := run(t, js, func(ctx context.Context, _ jetstream.Msg) error {
		close(started)
		<-release
		if ctx.Err() != nil {
			return ctx.Err()
		}
		finished.Store(true)
		return nil
	})
	<-started
	stopDone := make(chan struct{})
	go func() { stop(); close(stopDone) }()
	select {
	case <-stopDone:
		t.Fatal("Consume returned while a handler was still running")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	<-stopDone
	if !finished.Load() {
		t.Fatal("in-flight handler did not finish")
	}
	_, ack := pending(t, js)
	if ack != 0 {
		t.Fatalf("%d messages left unacked after drain", ack)
	}
}

func TestFullJitterBounds(t *testing.T) {
	b := stream.FullJitter(time.Second, 30*time.Second)
	for attempt := 1; attempt < 100; attempt++ {
		ceil := time.Second << (attempt - 1)
		if attempt > 5 || ceil > 30*time.Second {
			ceil = 30 * time.Second
		}
		for range 50 {
			if d := b(attempt); d < 0 || d > ceil {
				t.Fatalf("attempt %d: delay %v outside [0,%v]", attempt, d, ceil)
			}
		}
	}
}

func TestConsumeBatchAcksOrNaksWholeBatch(t *testing.T) {
	js := setup(t, 5)
	for i := range 30 {
		publish(t, js, "work.a", fmt.Sprint(i))
	}
	var calls atomic.Int32
	var handled atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- stream.ConsumeBatch(ctx, js, "WORK", "w", func(_ context.Context, msgs []jetstream.Msg) error {
			// The first batch fails as a whole (ClickHouse down) and is redelivered.
			if calls.Add(1) == 1 {
				return errors.New("clickhouse: connection refused")
			}
			handled.Add(int32(len(msgs)))
			return nil
		}, stream.WithBatch(10, 200*time.Millisecond), stream.WithBackoff(noDelay))
	}()
	waitFor(t, "every message handled after the failed batch", func() bool {
		p, a := pending(t, js)
		return p == 0 && a == 0 && handled.Load() >= 30
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := handled.Load(); got != 30 {
		t.Fatalf("handled %d messages, want exactly 30 (failed batch redelivered once)", got)
	}
	if dlqCount(t, js) != 0 {
		t.Fatal("a retryable batch failure dead-lettered messages")
	}
}
