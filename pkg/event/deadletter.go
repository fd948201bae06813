package event

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Dead-letter headers, added to a copy of the original message's headers.
const (
	HeaderDLQReason   = "Mlc-Dlq-Reason"
	HeaderDLQAttempts = "Mlc-Dlq-Attempts"
	HeaderDLQSubject  = "Mlc-Dlq-Subject"
	HeaderDLQStream   = "Mlc-Dlq-Stream"
	HeaderDLQSeq      = "Mlc-Dlq-Seq"
	HeaderDLQConsumer = "Mlc-Dlq-Consumer"
	HeaderDLQTime     = "Mlc-Dlq-Time"
)

// MaxDLQReason bounds the reason header; NetSuite error details can be long.
const MaxDLQReason = 4096

// DeadLetter is a message a consumer gave up on (DLQ stream, subject
// dlq.<original subject>). The body is the original message's body
// byte-for-byte and the headers are the original's plus the Mlc-Dlq-*
// ones, so `mlc dlq retry` can republish it exactly as it was.
type DeadLetter struct {
	// Reason says what a person has to fix, e.g. "order 000001234: SKU
	// TEE-M-RED has no NetSuite item".
	Reason string
	// Attempts is how many times the message was delivered.
	Attempts int
	// Subject, Stream and Seq locate the original message.
	Subject string
	Stream  string
	Seq     uint64
	// Consumer is the durable that gave up.
	Consumer string
	// At is when it was dead-lettered.
	At time.Time
	// Header is the original message's headers (without the Mlc-Dlq-* ones).
	Header nats.Header
	// Data is the original body.
	Data []byte
}

// MsgID of a dead letter: one per original message and consumer, so a
// crash between the DLQ publish and the term is harmless.
func (d DeadLetter) MsgID() string {
	return fmt.Sprintf("dlq:%s:%s:%d", d.Stream, d.Consumer, d.Seq)
}

// Msg builds the DLQ message.
func (d DeadLetter) Msg() *nats.Msg {
	out := nats.NewMsg(DLQSubject(d.Subject))
	out.Data = d.Data
	for k, v := range d.Header {
		out.Header[k] = append([]string(nil), v...)
	}
	reason := d.Reason
	if len(reason) > MaxDLQReason {
		reason = reason[:MaxDLQReason]
	}
	out.Header.Set(HeaderDLQReason, reason)
	out.Header.Set(HeaderDLQAttempts, strconv.Itoa(d.Attempts))
	out.Header.Set(HeaderDLQSubject, d.Subject)
	out.Header.Set(HeaderDLQStream, d.Stream)
	out.Header.Set(HeaderDLQConsumer, d.Consumer)
	out.Header.Set(HeaderDLQSeq, strconv.FormatUint(d.Seq, 10))
	out.Header.Set(HeaderDLQTime, d.At.UTC().Format(time.RFC3339Nano))
	out.Header.Set(HeaderMsgID, d.MsgID())
	return out
}

// ReadDeadLetter parses a DLQ message. The original Nats-Msg-Id is not
// recoverable (the DLQ id replaced it); a retry derives it again from the
// body's message type or republishes without one.
func ReadDeadLetter(subject string, hdr nats.Header, data []byte) (DeadLetter, error) {
	orig, ok := OriginalSubject(subject)
	if !ok {
		return DeadLetter{}, fmt.Errorf("%w: %q is not a DLQ subject", ErrInvalidMessage, subject)
	}
	d := DeadLetter{Subject: orig, Data: data, Header: nats.Header{}}
	d.Reason = hdr.Get(HeaderDLQReason)
	d.Stream = hdr.Get(HeaderDLQStream)
	d.Consumer = hdr.Get(HeaderDLQConsumer)
	if s := hdr.Get(HeaderDLQSubject); s != "" && s != orig {
		return DeadLetter{}, fmt.Errorf("%w: DLQ subject %q but %s %q", ErrInvalidMessage, subject, HeaderDLQSubject, s)
	}
	var err error
	if v := hdr.Get(HeaderDLQAttempts); v != "" {
		if d.Attempts, err = strconv.Atoi(v); err != nil {
			return DeadLetter{}, fmt.Errorf("%w: %s %q", ErrInvalidMessage, HeaderDLQAttempts, v)
		}
	}
	if v := hdr.Get(HeaderDLQSeq); v != "" {
		if d.Seq, err = strconv.ParseUint(v, 10, 64); err != nil {
			return DeadLetter{}, fmt.Errorf("%w: %s %q", ErrInvalidMessage, HeaderDLQSeq, v)
		}
	}
	if v := hdr.Get(HeaderDLQTime); v != "" {
		if d.At, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return DeadLetter{}, fmt.Errorf("%w: %s %q", ErrInvalidMessage, HeaderDLQTime, v)
		}
	}
	for k, v := range hdr {
		switch k {
		case HeaderDLQReason, HeaderDLQAttempts, HeaderDLQSubject, HeaderDLQStream, HeaderDLQSeq, HeaderDLQConsumer, HeaderDLQTime, HeaderMsgID:
			continue
		}
		d.Header[k] = append([]string(nil), v...)
	}
	return d, nil
}
