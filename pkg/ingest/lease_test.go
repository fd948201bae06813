package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
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
	a := NewLease(kv, "lease.test", "replica-a", time.Minute)
	b := NewLease(kv, "lease.test", "replica-b", time.Minute)
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

func FuzzDecodeWebhook(f *testing.F) {
	seeds := []string{
		`{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"000000001","store_id":1}}}`,
		`{"order":{"increment_id":7}}`,
		`{"eventName":"sales_order_invoice_save_after","data":{"invoice":{"increment_id":"1","state":2},"data_object":[]}}`,
		`{"eventName":"customer_register_success","data":{"customer":{"id":"5","email":"a@b.c"},"account_controller":[]}}`,
		`{"data":{"customer":{"email":"A@B.C"}}}`,
		`[]`, `null`, `{"data":[]}`, "\xff",
	}
	for _, s := range seeds {
		for _, kind := range []string{event.OrderPlaced, event.InvoiceCaptured, event.CustomerCreated} {
			f.Add(kind, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, kind string, raw []byte) {
		fact, _, ignore, err := decodeWebhook(kind, "default", raw)
		if err != nil || ignore != "" {
			return
		}
		switch kind {
		case event.OrderPlaced, event.InvoiceCaptured, event.CustomerCreated:
			if fact.ID == "" {
				t.Fatalf("accepted %s without a business key: %+v", kind, fact)
			}
			if string(fact.Raw) != string(raw) {
				t.Fatal("raw body not kept byte-for-byte")
			}
		}
	})
}
