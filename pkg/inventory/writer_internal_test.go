package inventory

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

// A change redelivered after a newer change of the same SKU was published
// (a batch that failed while the next run went on) must not put the old
// price back; the newer one is written.
func TestRedeliveredOlderChangeIsNotWritten(t *testing.T) {
	e := servicetest.New(t, servicetest.WithCommerce(commercesim.Config{Seed: 2}), servicetest.WithNetSuite(netsuitesim.Config{}))
	ctx := context.Background()
	pub, err := NewPublisher(ctx, e.JS, e.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	run := func() {
		t.Helper()
		if _, err := pub.Run(ctx, RunOptions{Origin: event.OriginManual}); err != nil {
			t.Fatal(err)
		}
	}
	run()
	e.NetSuite.SetPrice("104", "1", "1", decimal.NewFromInt(50))
	run()
	e.NetSuite.SetPrice("104", "1", "1", decimal.NewFromInt(51))
	run()

	cons, err := e.JS.Consumer(ctx, event.StreamInventory, event.DurableCommerceWriter)
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(n int) []jetstream.Msg {
		t.Helper()
		b, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var out []jetstream.Msg
		for m := range b.Messages() {
			out = append(out, m)
		}
		if len(out) != n {
			t.Fatalf("fetched %d, want %d", len(out), n)
		}
		return out
	}
	setKV, _ := e.JS.KeyValue(ctx, event.BucketSettings)
	m := NewMetrics(prometheus.NewRegistry())
	w, err := newWriter(ctx, e.JS, newStores(e.Secrets, m, 10*time.Millisecond), pub.snap, settings.New(setKV), m, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	first := fetch(10) // the initial run
	if err := w.Handle(ctx, first); err != nil {
		t.Fatal(err)
	}
	for _, msg := range first {
		_ = msg.Ack()
	}
	to50 := fetch(1)[0]
	if err := to50.Nak(); err != nil { // the batch failed...
		t.Fatal(err)
	}
	again := fetch(2) // ...and comes back, with the change to 51 (in either order)
	if md, _ := again[0].Metadata(); md.NumDelivered != 2 {
		again[0], again[1] = again[1], again[0]
	}
	if md, _ := again[0].Metadata(); md.NumDelivered != 2 {
		t.Fatalf("the naked message delivered %d times", md.NumDelivered)
	}
	if err := w.Handle(ctx, again[:1]); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.Commerce.ProductPrice("WB04", 1); !p.Equal(decimal.NewFromInt(45)) {
		t.Fatalf("the superseded price was written: %v", p)
	}
	if err := w.Handle(ctx, again[1:]); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.Commerce.ProductPrice("WB04", 1); !p.Equal(decimal.NewFromInt(51)) {
		t.Fatalf("WB04 price %v, want 51", p)
	}
	last := e.Last(t, event.StreamSync, event.SyncSubject(true, event.KindInventory))
	o, _, err := event.DecodeSyncOutcome(last.Data)
	if err != nil || o.Status != event.StatusOK || o.ExternalID != "WB04" {
		t.Fatalf("last outcome %+v %v", o, err)
	}
	if n := e.Count(t, event.StreamSync, "sync.ok.inventory"); n != 12 {
		t.Fatalf("%d outcomes, want 12 (one unchanged for the superseded change)", n)
	}
}
