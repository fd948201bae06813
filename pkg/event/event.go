// Package event defines what travels on JetStream: the CloudEvents 1.0
// envelope, subjects, message ids, the Mlc-* headers and the NetSuite
// external ids derived from Commerce keys (DESIGN.md §3).
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// SpecVersion is the CloudEvents version every envelope carries.
const SpecVersion = "1.0"

// Data schemas say which shape a Commerce fact's data has: the webhook
// body as Commerce sent it, or the REST record the backfill poll read.
const (
	SchemaWebhook     = "urn:mlc:commerce:webhook"  // observer or plugin webhook body
	SchemaIOEvent     = "urn:mlc:commerce:io-event" // Adobe I/O Events CloudEvent
	SchemaRESTOrder   = "urn:mlc:commerce:rest:order"
	SchemaRESTInvoice = "urn:mlc:commerce:rest:invoice"
)

// Envelope is a CloudEvents 1.0 event in structured JSON mode. Data is kept
// as raw bytes: the first event of a Commerce fact carries the webhook body
// byte-for-byte, so audit and replay never depend on a re-serialisation.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	Time            time.Time       `json:"time"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	DataSchema      string          `json:"dataschema,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
}

// ErrInvalidEnvelope is returned by Decode for bodies that are not a usable
// CloudEvents envelope.
var ErrInvalidEnvelope = errors.New("invalid cloudevents envelope")

// New builds an envelope with a fresh id and the current time. data must be
// valid JSON (it is embedded, not re-encoded).
func New(typ, source, subject string, data []byte, now time.Time) (Envelope, error) {
	if !json.Valid(data) {
		return Envelope{}, fmt.Errorf("%w: data of %s %s is not valid JSON", ErrInvalidEnvelope, typ, subject)
	}
	return Envelope{
		SpecVersion:     SpecVersion,
		ID:              uuid.NewString(),
		Type:            typ,
		Source:          source,
		Time:            now.UTC(),
		Subject:         subject,
		DataContentType: "application/json",
		Data:            json.RawMessage(data),
	}, nil
}

// Encode renders the envelope as JSON. Data is embedded verbatim.
func (e Envelope) Encode() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return b, nil
}

// Decode parses and validates an envelope.
func Decode(b []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrInvalidEnvelope, err)
	}
	switch {
	case e.SpecVersion != SpecVersion:
		return Envelope{}, fmt.Errorf("%w: specversion %q, want %q", ErrInvalidEnvelope, e.SpecVersion, SpecVersion)
	case e.ID == "":
		return Envelope{}, fmt.Errorf("%w: id missing", ErrInvalidEnvelope)
	case e.Type == "":
		return Envelope{}, fmt.Errorf("%w: type missing", ErrInvalidEnvelope)
	case e.Source == "":
		return Envelope{}, fmt.Errorf("%w: source missing", ErrInvalidEnvelope)
	}
	return e, nil
}
