package writer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ml-connector/ml-connector/pkg/netsuite"
)

// errBadRecord: the command's Record is not a JSON object; no retry helps.
var errBadRecord = errors.New("record is not a JSON object")

// recordFields decodes a command's REST body into its top-level fields,
// keeping every value byte-for-byte.
func recordFields(record json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(record))
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, errBadRecord
	}
	return m, nil
}

// bodyWith returns record with externalId set to externalID and, when
// given, entity and subsidiary set to those internal ids (subsidiary only
// when the record has none). The writer owns these fields: the transform
// cannot know the customer's internal id.
func bodyWith(record json.RawMessage, externalID, entity, subsidiary string) (json.RawMessage, error) {
	m, err := recordFields(record)
	if err != nil {
		return nil, err
	}
	ref := func(id string) json.RawMessage {
		b, _ := json.Marshal(map[string]string{"id": id})
		return b
	}
	if externalID != "" {
		b, _ := json.Marshal(externalID)
		m["externalId"] = b
	}
	if entity != "" {
		m["entity"] = ref(entity)
	}
	if _, has := m["subsidiary"]; !has && subsidiary != "" {
		m["subsidiary"] = ref(subsidiary)
	}
	delete(m, "id") // an upsert body must not carry an internal id
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return out, nil
}

// hasField reports whether the record sets a top-level field.
func hasField(record json.RawMessage, name string) bool {
	m, err := recordFields(record)
	if err != nil {
		return false
	}
	_, ok := m[name]
	return ok
}

// stringField is a top-level string field of the record ("" if absent).
func stringField(record json.RawMessage, name string) string {
	m, err := recordFields(record)
	if err != nil {
		return ""
	}
	var s string
	_ = json.Unmarshal(m[name], &s)
	return s
}

// errorDetails are NetSuite's o:errorCode, o:errorPath and detail of err,
// for the SYNC outcome.
func errorDetails(err error) (code, path, detail string) {
	var e *netsuite.Error
	if !errors.As(err, &e) {
		return "", "", ""
	}
	code, path = e.Code, e.Path()
	for _, d := range e.Details {
		if d.Detail != "" {
			detail = d.Detail
			break
		}
	}
	if detail == "" {
		detail = e.Title
	}
	return code, path, detail
}
