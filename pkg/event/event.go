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
	return NewValidated(typ, source, subject, data, now), nil
}

// NewValidated is New for data the caller has already checked with
// json.Valid (ingest's decoder scans every webhook body so): it does not
// scan the same bytes again. Data that is not valid JSON must never reach
// it, since Encode then embeds it as it is.
func NewValidated(typ, source, subject string, data []byte, now time.Time) Envelope {
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
	}
}

// Encode renders the envelope as JSON with Data embedded byte-for-byte:
// json.Marshal would compact it and escape & < > (so the stored copy of a
// webhook no longer matched Commerce's signature). Data that JSON cannot
// carry verbatim (surrounding whitespace, e.g. a trailing newline, which a
// JSON decoder drops) goes in CloudEvents' data_base64 instead. The
// attributes are written as encoding/json writes them (without HTML
// escaping), into one buffer sized for the whole event: this runs for
// every message every producer publishes.
func (e Envelope) Encode() ([]byte, error) {
	verbatim := len(e.Data) > 0 && verbatimJSON(e.Data)
	if len(e.Data) > 0 && !e.checked() && !json.Valid(e.Data) {
		return nil, fmt.Errorf("%w: data of event %s is not valid JSON", ErrInvalidEnvelope, e.ID)
	}
	size := 160 + len(e.SpecVersion) + len(e.ID) + len(e.Type) + len(e.Source) + len(e.Subject) + len(e.DataContentType) + len(e.DataSchema)
	if verbatim {
		size += len(e.Data)
	} else {
		size += base64.StdEncoding.EncodedLen(len(e.Data))
	}
	out := make([]byte, 0, size)
	out = appendAttr(append(out, '{'), "specversion", e.SpecVersion)
	out = appendAttr(append(out, ','), "id", e.ID)
	out = appendAttr(append(out, ','), "type", e.Type)
	out = appendAttr(append(out, ','), "source", e.Source)
	out = append(out, `,"time":"`...)
	out, err := e.Time.AppendText(out)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: time: %w", e.ID, err)
	}
	out = append(out, '"')
	for _, a := range [...]struct{ name, value string }{
		{"subject", e.Subject}, {"datacontenttype", e.DataContentType}, {"dataschema", e.DataSchema},
	} {
		if a.value != "" {
			out = appendAttr(append(out, ','), a.name, a.value)
		}
	}
	switch {
	case len(e.Data) == 0:
	case verbatim:
		out = append(out, `,"data":`...)
		out = append(out, e.Data...)
	default:
		out = append(out, `,"data_base64":"`...)
		out = base64.StdEncoding.AppendEncode(out, e.Data)
		out = append(out, '"')
	}
	return append(out, '}'), nil
}

// appendAttr appends "name":"value" with value as encoding/json quotes it
// (HTML escaping off). Printable ASCII other than " and \ is copied as it
// is; anything else (rare in ids, types, sources and keys) goes through
// encoding/json itself.
func appendAttr(out []byte, name, value string) []byte {
	out = append(out, '"')
	out = append(out, name...)
	out = append(out, `":`...)
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(value) // a string always encodes
			return append(out, bytes.TrimRight(buf.Bytes(), "\n")...)
		}
	}
	out = append(out, '"')
	out = append(out, value...)
	return append(out, '"')
}

// checked reports whether Data is still the slice New validated.
func (e Envelope) checked() bool {
	return len(e.validData) == len(e.Data) && len(e.Data) > 0 && &e.validData[0] == &e.Data[0]
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
