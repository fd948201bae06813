package commercefact

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

const minimalOrder = `{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"000000042","store_id":1}}}`

// envelopeJSON builds an envelope by hand, for the cases wrap cannot make.
func envelopeJSON(typ, source, schema, data string) []byte {
	m := map[string]any{"specversion": "1.0", "id": "e1", "type": typ, "source": source, "time": "2026-01-02T03:04:05Z",
		"datacontenttype": "application/json", "dataschema": schema}
	if data != "" {
		m["data"] = json.RawMessage(data)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func TestReadRejects(t *testing.T) {
	okData := envelopeJSON("commerce.order.placed", "commerce://default", event.SchemaWebhook, minimalOrder)
	hdr := func(kv ...string) nats.Header {
		h := nats.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name    string
		subject string
		hdr     nats.Header
		data    []byte
		want    error
		why     string
	}{
		{"not json", "", nil, []byte("nope"), ErrMalformed, "invalid cloudevents envelope"},
		{"empty", "", nil, nil, ErrMalformed, "invalid cloudevents envelope"},
		{"wrong specversion", "", nil, []byte(`{"specversion":"0.3","id":"1","type":"commerce.order.placed","source":"commerce://x"}`), ErrMalformed, "specversion"},
		{"a NETSUITE command", "", nil, envelopeJSON("netsuite.upsert.salesorder", "mlc://transform", "", `{}`), ErrUnknownKind, "event type"},
		{"commerce but not a fact kind", "", nil, envelopeJSON("commerce.order.updated", "commerce://default", event.SchemaWebhook, minimalOrder), ErrUnknownKind, "commerce.order.updated"},
		{"source is not a store", "", nil, envelopeJSON("commerce.order.placed", "netsuite://123", event.SchemaWebhook, minimalOrder), ErrMalformed, "commerce://<store>"},
		{"source without store", "", nil, envelopeJSON("commerce.order.placed", "commerce://", event.SchemaWebhook, minimalOrder), ErrMalformed, "commerce://<store>"},
		{"unknown schema", "", nil, envelopeJSON("commerce.order.placed", "commerce://default", "urn:mlc:commerce:graphql", minimalOrder), ErrUnknownShape, `dataschema "urn:mlc:commerce:graphql"`},
		{"no schema", "", nil, envelopeJSON("commerce.order.placed", "commerce://default", "", minimalOrder), ErrUnknownShape, `dataschema ""`},
		{"REST invoice schema on an order", "", nil, envelopeJSON("commerce.order.placed", "commerce://default", event.SchemaRESTInvoice, `{"increment_id":"1"}`), ErrUnknownShape, "cannot carry"},
		{"REST order schema on a customer", "", nil, envelopeJSON("commerce.customer.created", "commerce://default", event.SchemaRESTOrder, `{"increment_id":"1"}`), ErrUnknownShape, "cannot carry"},
		{"no data", "", nil, envelopeJSON("commerce.order.placed", "commerce://default", event.SchemaWebhook, ""), ErrMalformed, "no data"},
		{"webhook without an order", "", nil, envelopeJSON("commerce.order.placed", "commerce://default", event.SchemaWebhook, `{"data":{"quote":{}}}`), ErrMalformed, "no record object"},
		{"webhook body is a list", "", nil, envelopeJSON("commerce.order.placed", "commerce://default", event.SchemaWebhook, `[1,2]`), ErrMalformed, "not a JSON object"},
		{"REST order is not an object", "", nil, envelopeJSON("commerce.order.placed", "commerce://default", event.SchemaRESTOrder, `"x"`), ErrMalformed, "REST order"},
		{"REST order without increment id", "", nil, envelopeJSON("commerce.order.placed", "commerce://default", event.SchemaRESTOrder, `{"entity_id":3}`), ErrMalformed, "increment_id missing"},
		{"REST order with an absurd amount", "", nil, envelopeJSON("commerce.order.placed", "commerce://default", event.SchemaRESTOrder, `{"increment_id":"1","grand_total":1e300}`), ErrMalformed, "grand_total"},
		{"REST invoice state out of range", "", nil, envelopeJSON("commerce.invoice.captured", "commerce://default", event.SchemaRESTInvoice, `{"increment_id":"1","state":99999}`), ErrMalformed, "state"},
		{"I/O event of another kind", "", nil, envelopeJSON("commerce.order.placed", "commerce://default", event.SchemaIOEvent,
			`{"specversion":"1.0","id":"i","type":"com.adobe.commerce.observer.sales_order_invoice_save_after","data":{"value":{"increment_id":"1","state":2}}}`), ErrMalformed, "does not carry"},
		{"I/O event without value", "", nil, envelopeJSON("commerce.order.placed", "commerce://default", event.SchemaIOEvent,
			`{"specversion":"1.0","id":"i","type":"com.adobe.commerce.observer.sales_order_place_after","data":{}}`), ErrMalformed, "data.value"},
		{"subject of another store", "commerce.order.placed.uk", nil, okData, ErrMalformed, "wants subject commerce.order.placed.default"},
		{"subject of another kind", "commerce.invoice.captured.default", nil, okData, ErrMalformed, "does not match"},
		{"not a COMMERCE subject", "netsuite.upsert.salesorder", nil, okData, ErrUnknownKind, "not a COMMERCE subject"},
		{"Mlc-Key of another order", "commerce.order.placed.default", hdr(event.HeaderKey, "order:default:000000043"), okData, ErrMalformed, "does not name the record"},
		{"Mlc-Key of another store", "", hdr(event.HeaderKey, "order:uk:000000042"), okData, ErrMalformed, "Mlc-Key"},
		{"huge Mlc-Key is clipped", "", hdr(event.HeaderKey, strings.Repeat("k", 900_000)), okData, ErrMalformed, "..."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Read(c.subject, c.hdr, c.data)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("got %v (fact %+v), want %v saying %q", err, f, c.want, c.why)
			}
			if len(err.Error()) > 2000 {
				t.Errorf("error of %d bytes: outside input is not clipped", len(err.Error()))
			}
		})
	}
}

func TestReadSubjects(t *testing.T) {
	for _, store := range []string{"default", "en_us", "us.east", "shop one", "a*b>c", "100%"} {
		t.Run(store, func(t *testing.T) {
			body := []byte(minimalOrder)
			m := wrap(t, event.OrderPlaced, store, "000000042", event.OriginWebhook, event.SchemaWebhook, body)
			for _, subject := range []string{m.subject, event.DLQSubject(m.subject), ""} {
				f, err := Read(subject, m.hdr, m.data)
				if err != nil {
					t.Fatalf("subject %q: %v", subject, err)
				}
				if f.Store != store || f.Key() != m.hdr.Get(event.HeaderKey) || f.Source.MsgID != m.hdr.Get(event.HeaderMsgID) ||
					f.Source.Origin != event.OriginWebhook || f.Source.EventID == "" || f.Source.EventTime.IsZero() ||
					f.Source.Traceparent != m.hdr.Get(event.HeaderTraceparent) || f.Source.Traceparent == "" {
					t.Errorf("fact %+v", f)
				}
			}
		})
	}
	// Another store's subject token for the same store never matches.
	m := wrap(t, event.OrderPlaced, "us.east", "000000042", event.OriginWebhook, event.SchemaWebhook, []byte(minimalOrder))
	if _, err := Read("commerce.order.placed.us.east", m.hdr, m.data); !errors.Is(err, ErrMalformed) {
		t.Errorf("unescaped subject accepted: %v", err)
	}
}

// The envelope stored by ingest may escape & < > (json.Marshal) or keep the
// bytes verbatim: both read the same.
func TestReadEscapedAndVerbatimData(t *testing.T) {
	body := `{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"7","customer_firstname":"Tom & Jerry <b>",` +
		`"customer_lastname":"\u00e9\/","customer_email":"t@example.com","customer_id":null}}}`
	verbatim := `{"specversion":"1.0","id":"e","type":"commerce.order.placed","source":"commerce://default","time":"2026-01-02T03:04:05Z",` +
		`"dataschema":"urn:mlc:commerce:webhook","data":` + body + `}`
	escaped := wrapNoKey(t, event.OrderPlaced, "default", event.SchemaWebhook, []byte(body))
	a, err := Read("", nil, []byte(verbatim))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Read(escaped.subject, escaped.hdr, escaped.data)
	if err != nil {
		t.Fatal(err)
	}
	if a.Order.Customer.Firstname != "Tom & Jerry <b>" || a.Order.Customer.Lastname != "é/" {
		t.Errorf("names %+v", a.Order.Customer)
	}
	sameContent(t, "escaped vs verbatim", b, a)
}

func TestReadMsgFromJetStream(t *testing.T) {
	ns := natstest.RunServer(t)
	_, js := natstest.Connect(t, ns)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "COMMERCE_TEST", Subjects: []string{"commerce.>"}})
	if err != nil {
		t.Fatal(err)
	}
	m := wrap(t, event.OrderPlaced, "en_us", "000000042", event.OriginWebhook, event.SchemaWebhook, []byte(minimalOrder))
	msg := nats.NewMsg(m.subject)
	msg.Header, msg.Data = m.hdr, m.data
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "reader", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadMsg(got)
	if err != nil {
		t.Fatal(err)
	}
	if f.Kind != event.OrderPlaced || f.Store != "en_us" || f.Order.IncrementID != "000000042" || f.Source.MsgID != "order.placed:en_us:000000042" {
		t.Errorf("fact %+v", f)
	}
}

func TestCompleterErrors(t *testing.T) {
	sim := commercesim.NewTestServer(t, commercesim.Config{Seed: 3, Stores: testStores()})
	auth, err := commerce.NewOAuth1(commerce.OAuth1Credentials(commercesim.DefaultOAuth1()))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := commerce.New(sim.StoreBaseURL("default"), commerce.PaaS, auth, commerce.WithRetries(1, time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cp := NewCompleter(cli)
	o, err := sim.PlaceOrder(ctx, "default", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest})
	if err != nil {
		t.Fatal(err)
	}
	hook := func(model string) Fact {
		f, err := readHook(t, event.OrderPlaced, orderHook(model))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	// A phantom: the webhook fired, the order never committed.
	phantom, err := sim.PlaceOrder(ctx, "default", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.RollbackOrder(phantom.IncrementID); err != nil {
		t.Fatal(err)
	}
	_, err = cp.Complete(ctx, hook(`{"increment_id":"`+phantom.IncrementID+`","store_id":1}`))
	if !errors.Is(err, commerce.ErrNotFound) || !strings.Contains(err.Error(), phantom.IncrementID) {
		t.Errorf("phantom: %v", err)
	}
	// The same increment id in another store is another order.
	_, err = cp.Complete(ctx, hook(`{"increment_id":"`+o.IncrementID+`","store_id":2}`))
	if !errors.Is(err, commerce.ErrNotFound) {
		t.Errorf("other store: %v", err)
	}
	// An entity id that contradicts REST.
	_, err = cp.Complete(ctx, hook(`{"increment_id":"`+o.IncrementID+`","store_id":1,"entity_id":999}`))
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "entity id 999") {
		t.Errorf("entity mismatch: %v", err)
	}
	// Commerce down: the client's error comes through.
	sim.FailNext(10, 503)
	_, err = cp.Complete(ctx, hook(`{"increment_id":"`+o.IncrementID+`","store_id":1}`))
	var ce *commerce.Error
	if !errors.As(err, &ce) || ce.Status != 503 {
		t.Errorf("commerce down: %v", err)
	}
	sim.FailNext(0, 0)
	done, err := cp.Complete(ctx, hook(`{"increment_id":"`+o.IncrementID+`","store_id":1}`))
	if err != nil || !done.Complete() || done.Order.EntityID != int64(o.EntityID) || !done.Source.Completed {
		t.Errorf("after recovery: %v %+v", err, done.Source)
	}

	// A customer known by e-mail only is found by e-mail within its website.
	c, err := sim.RegisterCustomer(ctx, "en_us", commercesim.CustomerSpec{Email: "carol@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	byEmail, err := readHook(t, event.CustomerCreated, `{"data":{"customer":{"email":"carol@example.com","website_id":1,"store_id":3}}}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cp.Complete(ctx, byEmail)
	if err != nil || got.Customer.ID != int64(c.ID) || got.Customer.BuyerKey == byEmail.Customer.BuyerKey {
		t.Errorf("by e-mail: %v %+v", err, got.Customer)
	}
	_, err = readHook(t, event.CustomerCreated, `{"data":{"customer":{"firstname":"Nobody"}}}`)
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("customer without id or e-mail: %v", err)
	}
}
