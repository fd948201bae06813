package lease

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/natstest"
)

func TestLeaseOneHolderAtATime(t *testing.T) {
	_, js := natstest.Connect(t, natstest.RunServer(t))
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "mlc_checkpoints"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	a := New(kv, "lease.test", "replica-a", time.Minute)
	b := New(kv, "lease.test", "replica-b", time.Minute)
	a.now, b.now = clock, clock

	mustAcquire := func(l *Lease, want bool, when string) {
		t.Helper()
		got, err := l.Acquire(ctx)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if got != want {
			t.Fatalf("%s: %s acquired=%v, want %v", when, l.holder, got, want)
		}
	}
	mustAcquire(a, true, "first")
	mustAcquire(b, false, "while a holds it")
	mustAcquire(a, true, "a renews")
	now = now.Add(2 * time.Minute) // a stopped renewing: the lease expired
	mustAcquire(b, true, "after expiry")
	mustAcquire(a, false, "a comes back late")
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	mustAcquire(a, true, "after b released")
	// Releasing a lease one does not hold changes nothing.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	mustAcquire(b, false, "a still holds it")
}
