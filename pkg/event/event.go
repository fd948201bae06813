// Package event defines what travels on JetStream: the CloudEvents 1.0
// envelope, subjects, message ids, the Mlc-* headers and the NetSuite
// external ids derived from Commerce keys (DESIGN.md §3).
package event

import (
	"bytes"
	"encoding/base64"
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

	// validData is the Data that New checked, so Encode need not scan the
	// same bytes again (the publish path validated every body three times).
	validData []byte
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
		validData:       data,
	}, nil
}

// Encode renders the envelope as JSON with Data embedded byte-for-byte:
// json.Marshal would compact it and escape & < > (so the stored copy of a
// webhook no longer matched Commerce's signature). Data that JSON cannot
// carry verbatim (surrounding whitespace, e.g. a trailing newline, which a
// JSON decoder drops) goes in CloudEvents' data_base64 instead.
func (e Envelope) Encode() ([]byte, error) {
	head := envelopeHead{
		SpecVersion: e.SpecVersion, ID: e.ID, Type: e.Type, Source: e.Source, Time: e.Time,
		Subject: e.Subject, DataContentType: e.DataContentType, DataSchema: e.DataSchema,
	}
	var buf bytes.Buffer
	buf.Grow(256 + len(e.Data)*4/3)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(head); err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	out := bytes.TrimRight(buf.Bytes(), "\n")
	if len(e.Data) == 0 {
		return out, nil
	}
	out = out[:len(out)-1] // drop the closing brace
	switch {
	case !e.checked() && !json.Valid(e.Data):
		return nil, fmt.Errorf("%w: data of event %s is not valid JSON", ErrInvalidEnvelope, e.ID)
	case verbatimJSON(e.Data):
		out = append(out, `,"data":`...)
		out = append(out, e.Data...)
	default:
		out = append(out, `,"data_base64":"`...)
		out = base64.StdEncoding.AppendEncode(out, e.Data)
		out = append(out, '"')
	}
	return append(out, '}'), nil
}

// checked reports whether Data is still the slice New validated.
func (e Envelope) checked() bool {
	return len(e.validData) == len(e.Data) && len(e.Data) > 0 && &e.validData[0] == &e.Data[0]
}

// envelopeHead is Envelope without data, for Encode.
type envelopeHead struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Type            string    `json:"type"`
	Source          string    `json:"source"`
	Time            time.Time `json:"time"`
	Subject         string    `json:"subject,omitempty"`
	DataContentType string    `json:"datacontenttype,omitempty"`
	DataSchema      string    `json:"dataschema,omitempty"`
}

// verbatimJSON reports whether valid JSON b survives a decode into a
// json.RawMessage unchanged: it must not start or end with whitespace.
func verbatimJSON(b []byte) bool {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	return len(b) > 0 && !isSpace(b[0]) && !isSpace(b[len(b)-1])
}

// Decode parses and validates an envelope.
func Decode(b []byte) (Envelope, error) {
	var wire struct {
		Envelope
		DataBase64 []byte `json:"data_base64,omitempty"`
	}
	if err := json.Unmarshal(b, &wire); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrInvalidEnvelope, err)
	}
	e := wire.Envelope
	if wire.DataBase64 != nil {
		if len(e.Data) > 0 {
			return Envelope{}, fmt.Errorf("%w: both data and data_base64", ErrInvalidEnvelope)
		}
		e.Data = wire.DataBase64
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
