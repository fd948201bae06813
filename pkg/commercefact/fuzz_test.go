package commercefact

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// seedMessages are COMMERCE messages of every shape and kind, made by the
// simulator: what ingest really stores.
func seedMessages(tb testing.TB) []message {
	w := newWorld(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now().UTC()
	c, err := w.sim.RegisterCustomer(ctx, "en_us", commercesim.CustomerSpec{Address: &commercesim.Address{Firstname: "A", Lastname: "B",
		Street: []string{"1 Main St", "Apt 2"}, City: "Austin", Region: "Texas", RegionCode: "TX", RegionID: 57, Postcode: "78701", CountryID: "US"}})
	if err != nil {
		tb.Fatal(err)
	}
	o, err := w.sim.PlaceOrder(ctx, "us.east", commercesim.OrderSpec{Lines: []commercesim.LineSpec{{SKU: "MS09", Qty: 2},
		{SKU: "24-WG088", Qty: 1}, {SKU: "GC-50", Qty: 1}}, Buyer: commercesim.BuyerGuest, Discount: dec("4.5")})
	if err != nil {
		tb.Fatal(err)
	}
	inv, err := w.sim.CaptureInvoice(ctx, o.EntityID)
	if err != nil {
		tb.Fatal(err)
	}
	w.waitIO()
	var msgs []message
	add := func(kind, id, origin, schema string, raw []byte) {
		msgs = append(msgs, wrap(tb, kind, o.Store, id, origin, schema, raw))
	}
	w.rcv.mu.Lock()
	for path, bodies := range w.rcv.bodies {
		for _, b := range bodies {
			switch path {
			case "/hooks/order-placed":
				add(event.OrderPlaced, o.IncrementID, event.OriginWebhook, event.SchemaWebhook, b)
			case "/hooks/invoice-captured":
				add(event.InvoiceCaptured, inv.IncrementID, event.OriginWebhook, event.SchemaWebhook, b)
			case "/hooks/customer-created":
				msgs = append(msgs, wrap(tb, event.CustomerCreated, c.Store, "", event.OriginWebhook, event.SchemaWebhook, b))
			case "/io":
				ev, err := commerce.DecodeIOEvent(b)
				if err != nil {
					tb.Fatal(err)
				}
				kind := ioKind(ev.EventName())
				store := o.Store
				if kind == event.CustomerCreated {
					store = c.Store
				}
				msgs = append(msgs, wrap(tb, kind, store, "", event.OriginIOEvents, event.SchemaIOEvent, b))
			}
		}
	}
	w.rcv.mu.Unlock()
	opt := commerce.PollOptions{Until: time.Now().Add(time.Hour)}
	if _, err := w.cli.PollOrdersRaw(ctx, commerce.Cursor{UpdatedAt: start.Add(-time.Minute)}, opt,
		func(_ context.Context, page []commerce.Raw[commerce.Order], _ commerce.Cursor) error {
			for _, r := range page {
				add(event.OrderPlaced, r.Value.IncrementID, event.OriginPoll, event.SchemaRESTOrder, r.Bytes)
			}
			return nil
		}); err != nil {
		tb.Fatal(err)
	}
	if _, err := w.cli.PollInvoicesRaw(ctx, commerce.Cursor{UpdatedAt: start.Add(-time.Minute)}, opt,
		func(_ context.Context, page []commerce.Raw[commerce.Invoice], _ commerce.Cursor) error {
			for _, r := range page {
				add(event.InvoiceCaptured, r.Value.IncrementID, event.OriginPoll, event.SchemaRESTInvoice, r.Bytes)
			}
			return nil
		}); err != nil {
		tb.Fatal(err)
	}
	for i := range msgs {
		msgs[i].hdr.Del(event.HeaderKey) // customer keys were not known above
	}
	if len(msgs) != 8 {
		tb.Fatalf("%d seed messages, want 8 (3 webhooks, 3 I/O events, 2 REST records)", len(msgs))
	}
	return msgs
}

// checkFact asserts what holds for every fact Read returns.
func checkFact(t *testing.T, f Fact, inputLen int) {
	t.Helper()
	n := 0
	for _, set := range []bool{f.Order != nil, f.Invoice != nil, f.Customer != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d records in one fact", n)
	}
	want := map[string]bool{event.OrderPlaced: f.Order != nil, event.InvoiceCaptured: f.Invoice != nil, event.CustomerCreated: f.Customer != nil}
	if !want[f.Kind] {
		t.Fatalf("kind %q holds another record", f.Kind)
	}
	if !slices.Equal(f.Missing, sortParts(f.Missing)) {
		t.Fatalf("missing %v is not sorted and unique", f.Missing)
	}
	again := clone(f)
	for _, p := range again.Missing {
		clearPart(&again, p)
	}
	if !reflect.DeepEqual(again, f) {
		t.Fatalf("a missing part is not zero: %v", f.Missing)
	}
	if f.IncrementID() == "" && (f.Customer == nil || !f.Lacks(PartCustomer)) {
		t.Fatalf("fact without a key: %+v", f)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 64*inputLen+4096 {
		t.Fatalf("%d bytes of input became a %d byte fact", inputLen, len(b))
	}
}

func classified(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnknownKind) || errors.Is(err, ErrUnknownShape)
}

// Read takes messages from outside (any producer, replays, a hand-edited
// DLQ entry): it must never panic and must classify every failure.
func FuzzRead(f *testing.F) {
	for _, m := range seedMessages(f) {
		f.Add(m.subject, []byte(m.data))
		f.Add("", []byte(m.data))
	}
	f.Add("", []byte(minimalOrder))
	f.Add("commerce.order.placed.default", envelopeJSON("commerce.order.placed", "commerce://default", event.SchemaWebhook, minimalOrder))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		fact, err := Read(subject, nil, data)
		if err != nil {
			if !classified(err) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		checkFact(t, fact, len(data))
	})
}

// FuzzModel fuzzes the record decoders directly: mutations of an envelope
// rarely reach deep into its data.
func FuzzModel(f *testing.F) {
	for _, m := range seedMessages(f) {
		env, err := event.Decode(m.data)
		if err != nil {
			f.Fatal(err)
		}
		rec := []byte(env.Data)
		switch env.DataSchema {
		case event.SchemaIOEvent:
			ev, err := commerce.DecodeIOEvent(env.Data)
			if err != nil {
				f.Fatal(err)
			}
			rec = ev.Value
		case event.SchemaWebhook:
			for _, locate := range []func([]byte) (json.RawMessage, string, string, error){commerce.OrderRecord, commerce.InvoiceRecord, commerce.CustomerRecord} {
				if r, _, _, err := locate(env.Data); err == nil {
					rec = r
					break
				}
			}
		}
		for kind := range uint8(3) {
			f.Add(kind, rec)
		}
	}
	f.Add(uint8(0), []byte(`{"increment_id":"1","items":{"1":{"item_id":"2"}},"addresses":[[]],"payment":[]}`))
	f.Fuzz(func(t *testing.T, kind uint8, rec []byte) {
		k := []string{event.OrderPlaced, event.InvoiceCaptured, event.CustomerCreated}[kind%3]
		fact, err := fromModel(k, "default", rec, "fuzz")
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		checkFact(t, fact, len(rec))
	})
}
