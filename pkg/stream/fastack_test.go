package stream_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/stream"
)

// WithFastAck acks a handled batch without a confirmation per message; the
// batch is still settled as a whole, a failed one naked and redelivered.
func TestConsumeBatchFastAck(t *testing.T) {
	js := setup(t, 5)
	for i := range 45 {
		publish(t, js, "work.a", fmt.Sprint(i))
	}
	var calls, handled atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- stream.ConsumeBatch(ctx, js, "WORK", "w", func(_ context.Context, msgs []jetstream.Msg) error {
			if calls.Add(1) == 2 {
				return errors.New("clickhouse: connection refused")
			}
			handled.Add(int32(len(msgs)))
			return nil
		}, stream.WithBatch(10, 200*time.Millisecond), stream.WithBackoff(noDelay), stream.WithFastAck())
	}()
	waitFor(t, "every message handled and acked", func() bool {
		p, a := pending(t, js)
		return p == 0 && a == 0 && handled.Load() >= 45
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := handled.Load(); got != 45 {
		t.Fatalf("handled %d messages, want 45 (the failed batch once more, nothing else twice)", got)
	}
}
