package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// head is what the mirror reads of a CloudEvents envelope.
type head struct {
	ID, Type, Source, Subject string
	Time                      time.Time
	// data is the data member as it is in the body (the last one, as
	// encoding/json takes it; nil without one); b64 is set when the data
	// is in data_base64 instead.
	data []byte
	b64  bool
}

var errNotObject = errors.New("not a JSON object")

// readHead reads the envelope fields of b, which must be valid JSON (the
// caller checked with json.Valid), with the same verdict as event.Decode:
// one pass over the top-level members, the data member skipped rather than
// decoded. event.Decode spends three quarters of a row's build time
// decoding and copying a Commerce payload the mirror stores as bytes anyway.
// FuzzReadHead holds it to event.Decode.
func readHead(b []byte) (head, error) {
	var h head
	var spec string
	dataLen, hasB64 := 0, false
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return h, fmt.Errorf("%w: %w", event.ErrInvalidEnvelope, errNotObject)
	}
	i++
	for {
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			break
		}
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
		if i >= len(b) || b[i] != '"' {
			return h, fmt.Errorf("%w: %w", event.ErrInvalidEnvelope, errNotObject)
		}
		end := stringEnd(b, i)
		name := fieldName(memberName(b[i:end]))
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return h, fmt.Errorf("%w: %w", event.ErrInvalidEnvelope, errNotObject)
		}
		vs := skipSpace(b, i+1)
		ve := valueEnd(b, vs)
		val := b[vs:ve]
		i = ve
		var dst *string
		switch name {
		case "specversion":
			dst = &spec
		case "id":
			dst = &h.ID
		case "type":
			dst = &h.Type
		case "source":
			dst = &h.Source
		case "subject":
			dst = &h.Subject
		case "datacontenttype", "dataschema":
			var s string
			if err := stringValue(val, &s); err != nil {
				return h, fmt.Errorf("%w: %s: %v", event.ErrInvalidEnvelope, name, err)
			}
		case "time":
			if string(val) == "null" {
				continue
			}
			if err := json.Unmarshal(val, &h.Time); err != nil {
				return h, fmt.Errorf("%w: time: %v", event.ErrInvalidEnvelope, err)
			}
		case "data":
			dataLen, h.data = len(val), val
		case "data_base64":
			var raw []byte
			if err := json.Unmarshal(val, &raw); err != nil {
				return h, fmt.Errorf("%w: data_base64: %v", event.ErrInvalidEnvelope, err)
			}
			hasB64 = raw != nil
		}
		if dst != nil {
			if err := stringValue(val, dst); err != nil {
				return h, fmt.Errorf("%w: %s: %v", event.ErrInvalidEnvelope, name, err)
			}
		}
	}
	switch {
	case hasB64 && dataLen > 0:
		return h, fmt.Errorf("%w: both data and data_base64", event.ErrInvalidEnvelope)
	case spec != event.SpecVersion:
		return h, fmt.Errorf("%w: specversion %q, want %q", event.ErrInvalidEnvelope, spec, event.SpecVersion)
	case h.ID == "":
		return h, fmt.Errorf("%w: id missing", event.ErrInvalidEnvelope)
	case h.Type == "":
		return h, fmt.Errorf("%w: type missing", event.ErrInvalidEnvelope)
	case h.Source == "":
		return h, fmt.Errorf("%w: source missing", event.ErrInvalidEnvelope)
	}
	h.b64 = hasB64
	return h, nil
}

// syncOutcome is event.DecodeSyncOutcome(body) for a body readHead read:
// the outcome from the head's event type and data member, without decoding
// the envelope a second time (half of a SYNC row's build time); a body
// with data_base64 takes the full decode. FuzzReadHead holds it to
// event.DecodeSyncOutcome.
func syncOutcome(h head, body []byte) (event.SyncOutcome, error) {
	if h.b64 {
		o, _, err := event.DecodeSyncOutcome(body)
		return o, err
	}
	return event.SyncOutcomeOf(h.Type, h.data)
}

// fieldName is the envelope field a member name sets: encoding/json
// matches names case-insensitively (bytes.EqualFold), so "ID" is the id.
func fieldName(name []byte) string {
	for _, f := range []string{"specversion", "id", "type", "source", "subject", "datacontenttype", "dataschema", "time", "data", "data_base64"} {
		if bytes.EqualFold(name, []byte(f)) {
			return f
		}
	}
	return ""
}

// stringValue decodes a JSON string (null leaves dst as it is, as
// encoding/json does).
func stringValue(val []byte, dst *string) error {
	switch {
	case string(val) == "null":
		return nil
	case len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' && !containsEscapeOrControl(val[1:len(val)-1]):
		*dst = string(val[1 : len(val)-1])
		return nil
	}
	return json.Unmarshal(val, dst)
}

// containsEscapeOrControl reports bytes that need encoding/json's string
// decoding: escapes, and invalid UTF-8 (which it replaces).
func containsEscapeOrControl(s []byte) bool {
	for _, c := range s {
		if c == '\\' || c >= 0x80 {
			return true
		}
	}
	return false
}
