// Package audit is ml-connector's audit trail in ClickHouse: the schema and
// its migrations (ClickHouse 18.16 to current releases), the rows the
// audit-mirror writes (one per stream message), the batch writer, and the
// queries behind `mlc audit`, `mlc replay` and `mlc dlq`.
package audit

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// Row is one stream message as mirrored: where it was stored, what the
// envelope and headers say, the outcome of SYNC and DLQ messages, and the
// headers and body byte-for-byte (secrets redacted, see Redacted).
type Row struct {
	Stream  string `json:"stream"`
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	MsgID   string `json:"msg_id,omitempty"`

	EventID     string `json:"event_id,omitempty"`
	EventType   string `json:"event_type,omitempty"`
	Source      string `json:"source,omitempty"`
	Key         string `json:"key,omitempty"` // Mlc-Key
	Origin      string `json:"origin,omitempty"`
	Causation   string `json:"causation,omitempty"`
	Traceparent string `json:"traceparent,omitempty"`

	Received  time.Time `json:"received"`  // CloudEvents time (when the producer published)
	Published time.Time `json:"published"` // JetStream's timestamp
	Mirrored  time.Time `json:"mirrored"`

	// Status: a SYNC outcome's status, StatusDead for a dead letter, the
	// action for a DLQ action, StatusInvalid for a body the mirror could
	// not read (it is mirrored all the same), "" otherwise.
	Status     string `json:"status,omitempty"`
	Error      string `json:"error,omitempty"`
	ErrorCode  string `json:"error_code,omitempty"`
	Attempts   uint32 `json:"attempts,omitempty"`
	DurationMS int64  `json:"duration_ms,omitempty"`
	InternalID string `json:"internal_id,omitempty"`
	// For a dead letter: the stream and sequence of the original message
	// and the durable that gave up. For a DLQ action: the DLQ stream, the
	// letter's sequence and the operator.
	OrigStream string `json:"orig_stream,omitempty"`
	OrigSeq    uint64 `json:"orig_seq,omitempty"`
	Consumer   string `json:"consumer,omitempty"`

	HeaderNames  []string `json:"header_names"`
	HeaderValues []string `json:"header_values"`
	Data         []byte   `json:"-"`
	// Redacted is set when a header or the body had a secret removed, so
	// the stored body is not the message's bytes any more (replay then
	// reads the stream).
	Redacted bool `json:"redacted,omitempty"`
}

// Row statuses besides the SYNC outcome statuses of pkg/event.
const (
	StatusDead    = "dead"    // a dead letter
	StatusInvalid = "invalid" // the body is not a readable event
)

// Meta is where JetStream stored a message.
type Meta struct {
	Stream    string
	Seq       uint64
	Published time.Time
}

// FromMessage builds the row of one stream message. It never fails: a body
// that is not an event is mirrored as it is, with StatusInvalid and the
// reason, so nothing on a stream is missing from the audit.
func FromMessage(m Meta, subject string, hdr nats.Header, data []byte, mirrored time.Time) Row {
	r := Row{
		Stream: m.Stream, Seq: m.Seq, Subject: subject, Published: m.Published.UTC(), Mirrored: mirrored.UTC(),
		MsgID: hdr.Get(event.HeaderMsgID), Key: hdr.Get(event.HeaderKey), Origin: hdr.Get(event.HeaderOrigin),
		Causation: hdr.Get(event.HeaderCausation), Traceparent: hdr.Get(event.HeaderTraceparent),
	}
	r.HeaderNames, r.HeaderValues, r.Redacted = flattenHeaders(hdr)
	r.Data = data
	if !json.Valid(data) {
		r.Status, r.Error = StatusInvalid, event.ErrInvalidEnvelope.Error()+": not JSON"
		return r
	}
	body, redacted := redactValid(data, true)
	r.Data, r.Redacted = body, r.Redacted || redacted
	env, err := readHead(data)
	if err != nil {
		r.Status, r.Error = StatusInvalid, err.Error()
		return r
	}
	r.EventID, r.EventType, r.Source, r.Received = env.ID, env.Type, env.Source, env.Time.UTC()
	if r.Key == "" {
		r.Key = env.Subject
	}
	switch {
	case m.Stream == event.StreamSync:
		o, err := syncOutcome(env, data)
		if err != nil {
			r.Status, r.Error = StatusInvalid, err.Error()
			return r
		}
		r.Status, r.Error, r.ErrorCode = o.Status, syncError(o), o.ErrorCode
		r.Attempts, r.DurationMS, r.InternalID = clampAttempts(o.Attempts), o.DurationMS, o.InternalID
		if r.Key == "" {
			r.Key = o.BusinessKey
		}
	case event.IsDLQAction(subject):
		a, _, err := event.DecodeDLQAction(data)
		if err != nil {
			r.Status, r.Error = StatusInvalid, err.Error()
			return r
		}
		r.Status, r.Error = a.Action, a.Note
		r.OrigStream, r.OrigSeq, r.Consumer = event.StreamDLQ, a.LetterSeq, a.Operator
	case m.Stream == event.StreamDLQ:
		d, err := event.ReadDeadLetter(subject, hdr, data)
		if err != nil {
			r.Status, r.Error = StatusInvalid, err.Error()
			return r
		}
		r.Status, r.Error, r.Attempts = StatusDead, d.Reason, clampAttempts(d.Attempts)
		r.OrigStream, r.OrigSeq, r.Consumer = d.Stream, d.Seq, d.Consumer
	}
	return r
}

func syncError(o event.SyncOutcome) string {
	parts := []string{o.Error}
	if o.ErrorPath != "" {
		parts = append(parts, "at "+o.ErrorPath)
	}
	if o.ErrorDetail != "" && o.ErrorDetail != o.Error {
		parts = append(parts, o.ErrorDetail)
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

func clampAttempts(n int) uint32 {
	if n < 0 {
		return 0
	}
	if n > 1<<31 {
		return 1 << 31
	}
	return uint32(n)
}

// flattenHeaders lists the headers sorted by name (a name once per value,
// values in order), secret-looking ones with their value replaced.
func flattenHeaders(hdr nats.Header) (names, values []string, redacted bool) {
	keys := make([]string, 0, len(hdr))
	for k := range hdr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		secret := secretName(k)
		for _, v := range hdr[k] {
			if secret {
				v, redacted = Redacted, true
			}
			names = append(names, k)
			values = append(values, v)
		}
	}
	if names == nil {
		names, values = []string{}, []string{}
	}
	return names, values, redacted
}

// Header returns the first value of a mirrored header ("" when absent).
func (r Row) Header(name string) string {
	for i, n := range r.HeaderNames {
		if strings.EqualFold(n, name) && i < len(r.HeaderValues) {
			return r.HeaderValues[i]
		}
	}
	return ""
}

// Headers returns the mirrored headers as a nats.Header.
func (r Row) Headers() nats.Header {
	h := nats.Header{}
	for i, n := range r.HeaderNames {
		if i < len(r.HeaderValues) {
			h[n] = append(h[n], r.HeaderValues[i])
		}
	}
	return h
}
