package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Message is one typed message a producer puts on a stream. It knows its
// subject and keys; pkg/stream's Publisher wraps Data in a CloudEvents
// envelope and applies the headers of DESIGN.md §3. Every producer
// publishes through that one helper.
type Message interface {
	// Subject is the NATS subject, which picks the stream.
	Subject() string
	// MsgID is the Nats-Msg-Id: JetStream drops a second message with the
	// same id inside the stream's duplicate window.
	MsgID() string
	// Key is the business key (Mlc-Key and the CloudEvents subject) the
	// audit trail groups by, e.g. order:default:000000042.
	Key() string
	// Type is the CloudEvents type, e.g. commerce.order.placed.
	Type() string
	// Source is the CloudEvents source, e.g. commerce://default.
	Source() string
	// Schema is the CloudEvents dataschema ("" when the type says it all).
	Schema() string
	// Data is the event's data: raw bytes for a Commerce fact, JSON of the
	// message for everything else.
	Data() ([]byte, error)
}

// ErrInvalidMessage is returned by the Decode functions for a message whose
// data is not the expected type or misses a required field.
var ErrInvalidMessage = errors.New("invalid message")

// Entities: the first part of a business key.
const (
	EntityOrder    = "order"
	EntityInvoice  = "invoice"
	EntityCustomer = "customer"
	EntityItem     = "item"
)

// CommerceFact is a storefront record as received (COMMERCE stream): the
// payload exactly as Commerce sent it, under the store it belongs to.
// pkg/commercefact reads it back into a canonical order, invoice or customer.
type CommerceFact struct {
	Kind       string // OrderPlaced, InvoiceCaptured or CustomerCreated
	Store      string // Commerce store code
	ID         string // increment_id; for customers the buyer key (BuyerKey)
	DataSchema string // SchemaWebhook, SchemaIOEvent, SchemaRESTOrder, SchemaRESTInvoice
	Raw        []byte // Commerce's bytes, verbatim
}

// Entity is the business key's entity of the fact's kind.
func (f CommerceFact) Entity() string {
	switch f.Kind {
	case InvoiceCaptured:
		return EntityInvoice
	case CustomerCreated:
		return EntityCustomer
	}
	return EntityOrder
}

func (f CommerceFact) Subject() string       { return CommerceSubject(f.Kind, f.Store) }
func (f CommerceFact) MsgID() string         { return MsgID(f.Kind, f.Store, f.ID) }
func (f CommerceFact) Key() string           { return Key(f.Entity(), f.Store, f.ID) }
func (f CommerceFact) Type() string          { return CommerceType(f.Kind) }
func (f CommerceFact) Source() string        { return CommerceSource(f.Store) }
func (f CommerceFact) Schema() string        { return f.DataSchema }
func (f CommerceFact) Data() ([]byte, error) { return f.Raw, nil }

// Source of events produced by ml-connector's own services.
func ServiceSource(service string) string { return "mlc://" + service }

// jsonData is Data for messages that travel as their own JSON.
func jsonData(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

// decodeData decodes an envelope and its data into T, strictly: unknown
// fields are an error, so a producer and a consumer that disagree on a
// contract fail loudly instead of dropping a field. typeOK checks the
// envelope's type.
func decodeData[T any](body []byte, typeOK func(string) bool) (T, Envelope, error) {
	var zero T
	env, err := Decode(body)
	if err != nil {
		return zero, Envelope{}, err
	}
	v, err := dataAs[T](env.Type, env.Data, typeOK)
	return v, env, err
}

// dataAs is decodeData's second half: an envelope's data into T.
func dataAs[T any](eventType string, data []byte, typeOK func(string) bool) (T, error) {
	var zero T
	if !typeOK(eventType) {
		return zero, fmt.Errorf("%w: unexpected event type %q", ErrInvalidMessage, eventType)
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return zero, fmt.Errorf("%w: %s data: %v", ErrInvalidMessage, eventType, err)
	}
	return v, nil
}

// hash16 is the first 16 hex digits of sha256 over the parts, each
// length-prefixed so that different splits never collide.
func hash16(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
