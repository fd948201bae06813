package commercefact

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/event"
)

// Errors of Read, matched with errors.Is. The text says what is wrong and
// where, for the DLQ reason.
var (
	// ErrUnknownKind: the message is not a COMMERCE fact (its type or
	// subject is not an order, invoice or customer of a store).
	ErrUnknownKind = errors.New("commercefact: not a COMMERCE fact")
	// ErrUnknownShape: the envelope's dataschema is not one this reader
	// knows, or cannot carry the fact's kind.
	ErrUnknownShape = errors.New("commercefact: unknown data shape")
	// ErrMalformed: the envelope or its data cannot be read, lacks a
	// required field, or contradicts the subject or headers.
	ErrMalformed = errors.New("commercefact: malformed fact")
)

const sourcePrefix = "commerce://"

// ReadMsg is Read for a JetStream message.
func ReadMsg(msg jetstream.Msg) (Fact, error) {
	return Read(msg.Subject(), msg.Headers(), msg.Data())
}

// Read decodes one COMMERCE message: the CloudEvents envelope in data, its
// subject (commerce.<kind>.<store>, or the dlq. subject of one; "" skips
// the subject check) and headers, and returns the canonical fact whichever
// shape the envelope's data has. It never panics; every error matches
// ErrUnknownKind, ErrUnknownShape or ErrMalformed.
func Read(subject string, hdr nats.Header, data []byte) (Fact, error) {
	f, err := read(subject, hdr, data)
	if err != nil {
		if subject == "" {
			subject = "COMMERCE message"
		}
		return Fact{}, fmt.Errorf("read %s: %w", subject, err)
	}
	return f, nil
}

func read(subject string, hdr nats.Header, data []byte) (Fact, error) {
	env, err := event.Decode(data)
	if err != nil {
		return Fact{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	kind, ok := strings.CutPrefix(env.Type, "commerce.")
	if !ok || (kind != event.OrderPlaced && kind != event.InvoiceCaptured && kind != event.CustomerCreated) {
		return Fact{}, fmt.Errorf("%w: event type %q, want commerce.order.placed, commerce.invoice.captured or commerce.customer.created",
			ErrUnknownKind, clip(env.Type))
	}
	store, ok := strings.CutPrefix(env.Source, sourcePrefix)
	if !ok || store == "" {
		return Fact{}, fmt.Errorf("%w: event source %q is not commerce://<store>", ErrMalformed, clip(env.Source))
	}
	if subject != "" {
		subj := subject
		if orig, isDLQ := event.OriginalSubject(subject); isDLQ {
			subj = orig
		}
		if want := event.CommerceSubject(kind, store); subj != want {
			if !strings.HasPrefix(subj, "commerce.") {
				return Fact{}, fmt.Errorf("%w: subject is not a COMMERCE subject", ErrUnknownKind)
			}
			return Fact{}, fmt.Errorf("%w: subject does not match the event (%s of store %q wants subject %s)",
				ErrMalformed, env.Type, clip(store), clip(want))
		}
	}
	src := Source{
		Schema: env.DataSchema, EventID: env.ID, EventTime: env.Time,
		Origin: hdr.Get(event.HeaderOrigin), MsgID: hdr.Get(event.HeaderMsgID), Key: hdr.Get(event.HeaderKey),
		Causation: hdr.Get(event.HeaderCausation), Traceparent: hdr.Get(event.HeaderTraceparent),
	}
	f, err := readData(kind, store, env.DataSchema, env.Data, &src)
	if err != nil {
		return Fact{}, err
	}
	f.Source = src
	if src.Key != "" && src.Key != f.Key() {
		return Fact{}, fmt.Errorf("%w: header %s %q does not name the record in the data (%q)",
			ErrMalformed, event.HeaderKey, clip(src.Key), clip(f.Key()))
	}
	return f, nil
}

// readData picks the decoder by dataschema.
func readData(kind, store, schema string, data json.RawMessage, src *Source) (Fact, error) {
	if len(data) == 0 {
		return Fact{}, fmt.Errorf("%w: the event has no data", ErrMalformed)
	}
	switch schema {
	case event.SchemaWebhook:
		src.Shape = ShapeWebhook
		return readWebhook(kind, store, data, src)
	case event.SchemaIOEvent:
		src.Shape = ShapeIOEvent
		return readIOEvent(kind, store, data, src)
	case event.SchemaRESTOrder:
		src.Shape = ShapeREST
		if kind != event.OrderPlaced {
			return Fact{}, fmt.Errorf("%w: dataschema %s cannot carry a %s fact", ErrUnknownShape, schema, kind)
		}
		var o commerce.Order
		if err := json.Unmarshal(data, &o); err != nil {
			return Fact{}, fmt.Errorf("%w: REST order: %v", ErrMalformed, err)
		}
		return OrderFact(store, o)
	case event.SchemaRESTInvoice:
		src.Shape = ShapeREST
		if kind != event.InvoiceCaptured {
			return Fact{}, fmt.Errorf("%w: dataschema %s cannot carry a %s fact", ErrUnknownShape, schema, kind)
		}
		var inv commerce.Invoice
		if err := json.Unmarshal(data, &inv); err != nil {
			return Fact{}, fmt.Errorf("%w: REST invoice: %v", ErrMalformed, err)
		}
		return InvoiceFact(store, inv, "")
	}
	return Fact{}, fmt.Errorf("%w: dataschema %q, want %s, %s, %s or %s", ErrUnknownShape, clip(schema),
		event.SchemaWebhook, event.SchemaIOEvent, event.SchemaRESTOrder, event.SchemaRESTInvoice)
}

// readWebhook reads a Commerce Webhooks body: commerce finds the record
// the way its decoders (and so ingest) do, the model reader reads it.
func readWebhook(kind, store string, data []byte, src *Source) (Fact, error) {
	locate := commerce.OrderRecord
	switch kind {
	case event.InvoiceCaptured:
		locate = commerce.InvoiceRecord
	case event.CustomerCreated:
		locate = commerce.CustomerRecord
	}
	rec, path, name, err := locate(data)
	if err != nil {
		return Fact{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	src.CommerceEvent = name
	return fromModel(kind, store, rec, entityOf(kind)+" webhook "+path)
}

func fromModel(kind, store string, rec []byte, what string) (Fact, error) {
	switch kind {
	case event.OrderPlaced:
		return orderFromModel(rec, what, store)
	case event.InvoiceCaptured:
		return invoiceFromModel(rec, what, store)
	}
	return customerFromModel(rec, what, store)
}

// readIOEvent reads an Adobe I/O Events delivery: data.value holds the
// subscribed fields, data._metadata the store when the value lacks it.
func readIOEvent(kind, store string, data []byte, src *Source) (Fact, error) {
	ev, err := commerce.DecodeIOEvent(data)
	if err != nil {
		return Fact{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	src.CommerceEvent, src.IOEventID = ev.EventName(), ev.EventID
	if got := ioKind(ev.EventName()); got != kind {
		return Fact{}, fmt.Errorf("%w: I/O event type %q does not carry a %s fact", ErrMalformed, clip(ev.Type), kind)
	}
	f, err := fromModel(kind, store, ev.Value, "io event data.value")
	if err != nil {
		return Fact{}, err
	}
	if md := ev.Metadata.StoreID; md > 0 && f.Lacks(PartStoreID) {
		fillStoreID(&f, md, ev.Metadata.WebsiteID)
	}
	return f, nil
}

// fillStoreID takes the store from I/O Events metadata when the value
// lacks it, as ingest routes by it.
func fillStoreID(f *Fact, storeID, websiteID int64) {
	switch {
	case f.Order != nil:
		f.Order.StoreID = storeID
	case f.Invoice != nil:
		f.Invoice.StoreID = storeID
	case f.Customer != nil:
		if websiteID <= 0 {
			return
		}
		f.Customer.StoreID, f.Customer.WebsiteID = storeID, websiteID
	}
	f.Missing = slicesDelete(f.Missing, PartStoreID)
}

func slicesDelete(ps []Part, p Part) []Part {
	var out []Part
	for _, q := range ps {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

// clip bounds a value quoted in an error: headers and sources come from
// outside and must not blow up a log line or a DLQ reason.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
